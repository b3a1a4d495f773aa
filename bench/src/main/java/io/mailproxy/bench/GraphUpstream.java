package io.mailproxy.bench;

import io.mailproxy.core.identity.PasswordHasher;
import io.mailproxy.testkit.graph.FakeGraph;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What the Graph benchmarks share (issue 16): testkit's {@link FakeGraph} in the bench JVM (HTTPS on 127.0.0.1, its
 * CA's PEM the daemon's {@code ca-file}), mailboxes {@code u01@bench.test}... on it, every token the bench's identity
 * provider mints accepted as an app-only token with Mail.Send and Mail.ReadWrite, the daemon's configuration
 * (client credentials, {@code send-with = graph}, {@code pop3.source = graph}) and the direct client
 * ({@link GraphDirect}, in a JVM of its own as the daemon is).
 */
final class GraphUpstream implements AutoCloseable {

    static final String APP_ID = "mailproxy-bench";
    /** Graph mailboxes (and accounts) u01 ... u10: one per concurrent SMTP client. */
    static final int ACCOUNTS = 10;

    final FakeGraph fake;
    final GraphDirect direct;
    private final Env env;

    private GraphUpstream(Env env, FakeGraph fake, GraphDirect direct) {
        this.env = env;
        this.fake = fake;
        this.direct = direct;
    }

    static GraphUpstream start(Env env) throws IOException {
        // a 50 MB message is over the tenant default of 35 MB; bigger attachments than 4 MiB keep only their hash
        FakeGraph fake = FakeGraph.start().maxMessageBytes(200L * 1024 * 1024);
        env.idp.onMint = (token, user) -> fake.acceptToken(token, APP_ID, "Mail.Send", "Mail.ReadWrite");
        for (int i = 1; i <= ACCOUNTS; i++) {
            fake.mailbox(Env.user(i));
        }
        // the direct client's token is minted in memory before any clock starts
        GraphDirect direct = GraphDirect.start(fake.baseUrl(), fake.caPem(), env.idp.mint(""),
                env.scratch.resolve("graph-direct.log"));
        return new GraphUpstream(env, fake, direct);
    }

    /** The local client of account i sending in pass-through (and reading POP3 from the Graph inbox). */
    static String client(int i) {
        return String.format("app%02dg", i);
    }

    /** The local client of account i whose messages are queued ({@code smtp.queue = true}). */
    static String queueClient(int i) {
        return String.format("app%02dq", i);
    }

    /** Messages Graph has accepted for sending from the benchmark's mailboxes so far. */
    long sent() {
        long n = 0;
        for (int i = 1; i <= ACCOUNTS; i++) {
            n += fake.mailbox(Env.user(i)).sent().size();
        }
        return n;
    }

    /**
     * Drops what the fake keeps of every message sent so far (its {@code sent()} record and the Sent Items copy), so
     * that rounds of 1 MiB messages do not fill the bench's heap. The fake keeps them for tests' assertions and has
     * no call to forget them, hence reflection on its private fields; when they are renamed this does nothing and
     * the messages stay (memory only: the counts stay right).
     */
    void forgetSent() {
        for (int i = 1; i <= ACCOUNTS; i++) {
            io.mailproxy.testkit.graph.GraphMailbox mb = fake.mailbox(Env.user(i));
            try {
                java.lang.reflect.Field sent = mb.getClass().getDeclaredField("sent");
                java.lang.reflect.Field messages = mb.getClass().getDeclaredField("messages");
                sent.setAccessible(true);
                messages.setAccessible(true);
                String sentItems = mb.folder("sentitems");
                synchronized (mb) {
                    ((List<?>) sent.get(mb)).clear();
                    ((java.util.Map<?, ?>) messages.get(mb)).values().removeIf(m ->
                            ((io.mailproxy.testkit.graph.GraphMessage) m).folderId().equals(sentItems));
                }
            } catch (ReflectiveOperationException | RuntimeException e) {
                return;
            }
        }
    }

    /** The daemon's configuration: one upstream on the fake Graph, accounts u01..u10, two clients each. */
    String hocon(int pop3, int smtp) {
        String hash = PasswordHasher.hash(Env.CLIENT_PASSWORD.toCharArray());
        StringBuilder b = new StringBuilder();
        b.append("mailproxy {\n");
        b.append("  state-dir = \"").append(env.scratch.resolve("state-graph")).append("\"\n");
        b.append("  listeners = [\n");
        if (pop3 > 0) {
            b.append("    { protocol = pop3, bind = \"127.0.0.1\", port = ").append(pop3).append(" }\n");
        }
        if (smtp > 0) {
            b.append("    { protocol = smtp, bind = \"127.0.0.1\", port = ").append(smtp).append(" }\n");
        }
        b.append("  ]\n");
        b.append("  upstreams.graph {\n");
        b.append("    graph = \"").append(fake.baseUrl()).append("\"\n");
        b.append("    send-with = graph\n");
        b.append("    ca-file = \"").append(fake.caPem()).append("\"\n");
        b.append("  }\n");
        b.append("  oauth2.bench { token-endpoint = \"").append(env.idp.tokenEndpoint())
                .append("\", client-id = \"").append(APP_ID).append("\", client-secret = \"bench-secret\" }\n");
        // the queue variant drains between rounds: Office 365's 30 messages a minute would take minutes
        b.append("  smtp.queue { messages-per-minute = 100000, connections-per-account = 3 }\n");
        b.append("  accounts {\n");
        for (int i = 1; i <= ACCOUNTS; i++) {
            b.append("    \"").append(Env.user(i)).append("\" { upstream = graph, auth { type = oauth2, ")
                    .append("provider = bench, grant = client-credentials } }\n");
        }
        b.append("  }\n");
        b.append("  clients {\n");
        for (int i = 1; i <= ACCOUNTS; i++) {
            b.append("    \"").append(client(i)).append("\" { password = \"").append(hash).append("\", account = \"")
                    .append(Env.user(i)).append("\", protocols = [smtp, pop3], smtp { max-size = 60M }, ")
                    .append("pop3 { source = graph, folder = inbox, on-delete = keep } }\n");
            b.append("    \"").append(queueClient(i)).append("\" { password = \"").append(hash)
                    .append("\", account = \"").append(Env.user(i))
                    .append("\", protocols = [smtp], smtp { queue = true, max-size = 60M } }\n");
        }
        b.append("  }\n");
        b.append("  admin { enabled = false }\n");
        b.append("}\n");
        return b.toString();
    }

    /**
     * A multipart/mixed message of about {@code size} octets written to {@code file}: a short text part and
     * {@code parts} base64 attachments of equal size (what the large-message path splits off and uploads).
     */
    static Path multipart(Path file, String to, int n, long size, int parts) throws IOException {
        String boundary = "=_bench_" + n + "_" + size;
        String head = "From: bench@bench.test\r\nTo: " + to + "\r\nSubject: large benchmark message " + n + "\r\n"
                + "Message-ID: <large." + n + "." + size + "@bench.test>\r\nDate: Wed, 25 Nov 2026 20:00:00 +0000\r\n"
                + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n"
                + "--" + boundary + "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nAttached: " + parts
                + " files.\r\n";
        long perPart = (size - head.length()) / parts; // base64 octets (76 + CRLF per line) per attachment
        long raw = perPart / 78 * 57; // decoded octets that give about that many base64 lines
        byte[] chunk = new byte[57 * 1024];
        java.util.Random random = new java.util.Random(n);
        try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(file), 1 << 16)) {
            out.write(head.getBytes(StandardCharsets.US_ASCII));
            Base64.Encoder mime = Base64.getMimeEncoder(76, "\r\n".getBytes(StandardCharsets.US_ASCII));
            for (int p = 1; p <= parts; p++) {
                out.write(("--" + boundary + "\r\nContent-Type: application/octet-stream; name=\"part" + p
                        + ".bin\"\r\nContent-Disposition: attachment; filename=\"part" + p + ".bin\"\r\n"
                        + "Content-Transfer-Encoding: base64\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                for (long left = raw; left > 0; left -= chunk.length) {
                    int take = (int) Math.min(left, chunk.length);
                    random.nextBytes(chunk);
                    byte[] enc = mime.encode(take == chunk.length ? chunk : java.util.Arrays.copyOf(chunk, take));
                    out.write(enc);
                    out.write('\r');
                    out.write('\n');
                }
            }
            out.write(("--" + boundary + "--\r\n").getBytes(StandardCharsets.US_ASCII));
        }
        return file;
    }

    /**
     * The daemon's live heap, sampled again and again (each sample a {@code jcmd GC.class_histogram}: a full GC and
     * the bytes still reachable; then its resident set) while {@code work} runs; returns {largest heap KiB, samples,
     * largest RSS KiB}.
     */
    static long[] heapWhile(DaemonProcess d, Work work) throws Exception {
        AtomicBoolean done = new AtomicBoolean();
        long[] out = new long[3];
        Thread sampler = new Thread(() -> {
            while (!done.get()) {
                try {
                    long kib = d.liveHeapKiB();
                    long rss = d.rssKiB();
                    synchronized (out) {
                        out[0] = Math.max(out[0], kib);
                        out[1]++;
                        out[2] = Math.max(out[2], rss);
                    }
                } catch (Exception e) {
                    return;
                }
            }
        }, "bench-heap-sampler");
        sampler.start();
        try {
            work.run();
        } finally {
            done.set(true);
            sampler.join();
        }
        synchronized (out) {
            return out.clone();
        }
    }

    interface Work {
        void run() throws Exception;
    }

    @Override
    public void close() {
        direct.close();
        env.idp.onMint = (token, user) -> { };
        fake.close();
    }
}
