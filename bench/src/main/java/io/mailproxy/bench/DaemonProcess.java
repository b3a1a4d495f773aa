package io.mailproxy.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The real daemon in its own JVM ({@code java -jar mailproxy.jar run --config FILE}), listening on free loopback
 * ports, with jcmd for its heap after a full GC and /proc for its resident set.
 */
final class DaemonProcess implements AutoCloseable {

    static final String JVM_HEAP = "-Xmx1g";

    final int imap;
    final int pop3;
    final int smtp;
    final Path log;
    private final Process process;

    private DaemonProcess(Process process, int imap, int pop3, int smtp, Path log) {
        this.process = process;
        this.imap = imap;
        this.pop3 = pop3;
        this.smtp = smtp;
        this.log = log;
    }

    /** Starts the daemon with listeners for {@code protocols} (imap, pop3, smtp) only. */
    static DaemonProcess start(Env env, Path jar, String tag, int poolMax, int minIdle, String... protocols)
            throws Exception {
        return start(env, jar, tag, (imap, pop3, smtp) -> ProxyConfig.hocon(env, imap, pop3, smtp, poolMax, minIdle),
                protocols);
    }

    /** The configuration of a daemon for its listener ports (0: no such listener). */
    interface Config {
        String hocon(int imap, int pop3, int smtp);
    }

    /** Starts the daemon with {@code config} and listeners for {@code protocols} (imap, pop3, smtp) only. */
    static DaemonProcess start(Env env, Path jar, String tag, Config config, String... protocols) throws Exception {
        List<String> wanted = List.of(protocols);
        int imap = wanted.contains("imap") ? freePort() : 0;
        int pop3 = wanted.contains("pop3") ? freePort() : 0;
        int smtp = wanted.contains("smtp") ? freePort() : 0;
        Path conf = env.scratch.resolve("mailproxy-" + tag + ".conf");
        Files.writeString(conf, config.hocon(imap, pop3, smtp));
        Path log = env.scratch.resolve("mailproxy-" + tag + ".log");
        return launch(jar, conf, log, imap, pop3, smtp);
    }

    /** Starts the daemon on a configuration already written, whose listeners are {@code imap} and {@code smtp}. */
    static DaemonProcess start(Path jar, Path conf, Path log, int imap, int smtp) throws Exception {
        return launch(jar, conf, log, imap, 0, smtp);
    }

    private static DaemonProcess launch(Path jar, Path conf, Path log, int imap, int pop3, int smtp)
            throws Exception {
        if (!Files.isRegularFile(jar)) {
            throw new IOException(jar + " is missing: build it with mvn -pl proxy-daemon -am package -DskipTests");
        }
        List<String> cmd = new ArrayList<>(List.of(javaTool("java"), JVM_HEAP, "-jar", jar.toString(),
                "run", "--config", conf.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        DaemonProcess d = new DaemonProcess(p, imap, pop3, smtp, log);
        Runtime.getRuntime().addShutdownHook(new Thread(d::close));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        for (int port : new int[] {imap, pop3, smtp}) {
            while (port > 0) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 500);
                    break;
                } catch (IOException e) {
                    if (!p.isAlive() || System.nanoTime() > deadline) {
                        d.close();
                        throw new IOException("the daemon did not start; its output:\n" + Files.readString(log));
                    }
                    Thread.sleep(100);
                }
            }
        }
        return d;
    }

    InetSocketAddress imapAddress() {
        return new InetSocketAddress("127.0.0.1", imap);
    }

    InetSocketAddress pop3Address() {
        return new InetSocketAddress("127.0.0.1", pop3);
    }

    InetSocketAddress smtpAddress() {
        return new InetSocketAddress("127.0.0.1", smtp);
    }

    long pid() {
        return process.pid();
    }

    /** Heap in use after a full GC ({@code jcmd GC.run}, then {@code GC.heap_info}), in KiB. */
    long heapUsedAfterGcKiB() throws IOException, InterruptedException {
        jcmd("GC.run");
        String info = jcmd("GC.heap_info");
        Matcher m = Pattern.compile("used (\\d+)K").matcher(info);
        if (!m.find()) {
            throw new IOException("cannot read heap use from: " + info);
        }
        return Long.parseLong(m.group(1));
    }

    /**
     * Live heap in KiB: {@code jcmd GC.class_histogram} (a full GC, then the objects still reachable, in one
     * safepoint). Unlike {@link #heapUsedAfterGcKiB()}, whose two commands let a busy daemon allocate between the GC
     * and the reading, this holds while it streams at hundreds of MB/s.
     */
    long liveHeapKiB() throws IOException, InterruptedException {
        String histogram = jcmd("GC.class_histogram");
        Matcher m = Pattern.compile("(?m)^Total\\s+\\d+\\s+(\\d+)").matcher(histogram);
        if (!m.find()) {
            throw new IOException("cannot read the live heap from: " + histogram.lines().limit(5).toList());
        }
        return Long.parseLong(m.group(1)) / 1024;
    }

    /** Resident set (VmRSS) in KiB. */
    long rssKiB() throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/" + pid() + "/status"))) {
            if (l.startsWith("VmRSS:")) {
                return Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        }
        throw new IOException("no VmRSS");
    }

    private String jcmd(String what) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(javaTool("jcmd"), Long.toString(pid()), what).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(60, TimeUnit.SECONDS);
        return out;
    }

    private static String javaTool(String name) {
        Path home = Path.of(System.getProperty("java.home"));
        Path tool = home.resolve("bin").resolve(name);
        return Files.isExecutable(tool) ? tool.toString() : name;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }

    /** SIGKILL: no goodbye, no drain, nothing flushed; waits until the process is gone. */
    synchronized void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    @Override
    public synchronized void close() {
        if (!process.isAlive()) {
            return;
        }
        process.destroy(); // SIGTERM: the daemon says goodbye and drains
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
