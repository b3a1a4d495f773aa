package io.mailproxy.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * The direct Graph client of the Graph benchmarks, as a program that uses Graph itself would be: its own JVM (the
 * daemon has its own too, and the fake Graph lives in the bench's), one JDK {@link HttpClient} (kept-alive
 * connections; HTTP/2 offered, HTTP/1.1 negotiated with the fake), trusting the fake's CA, with an app-only token
 * minted beforehand. The bench drives it over stdin/stdout, one command a line:
 * <ul>
 *   <li>{@code send MAILBOXES SIZE TOTAL}: TOTAL messages of SIZE octets, one thread per mailbox (u01 ...), each
 *       {@code POST /users/{mailbox}/sendMail} with the MIME base64, {@code text/plain}; answers {@code ok SECONDS};
 *   <li>{@code read MAILBOX COUNT BYTES}: lists the inbox (the daemon's query, following {@code @odata.nextLink}),
 *       GETs each message's {@code $value} read to its end; answers {@code ok SECONDS FIRST_BYTE_MS}.
 * </ul>
 */
final class GraphDirect implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Process process;
    private final BufferedReader replies;
    private final PrintStream commands;

    private GraphDirect(Process process) {
        this.process = process;
        this.replies = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        this.commands = new PrintStream(process.getOutputStream(), true, StandardCharsets.UTF_8);
    }

    /** Starts the client's JVM (the bench's own jar, {@code -Xmx512m}); the token goes over stdin, not argv. */
    static GraphDirect start(URI base, Path caPem, String token, Path log) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xmx512m", "-cp", System.getProperty("java.class.path"),
                GraphDirect.class.getName(), base.toString(), caPem.toString())
                .redirectError(log.toFile()).start();
        GraphDirect d = new GraphDirect(p);
        d.commands.println(token);
        return d;
    }

    /** Sends {@code total} messages of {@code size} from one thread per mailbox; returns seconds. */
    double send(int mailboxes, int size, int total) throws IOException {
        return Double.parseDouble(ask("send " + mailboxes + " " + size + " " + total)[1]);
    }

    /** Lists and reads a mailbox's inbox; returns {seconds, milliseconds to the first byte of message 1}. */
    double[] read(String mailbox, int count, long bytes) throws IOException {
        String[] r = ask("read " + mailbox + " " + count + " " + bytes);
        return new double[] {Double.parseDouble(r[1]), Double.parseDouble(r[2])};
    }

    private String[] ask(String command) throws IOException {
        commands.println(command);
        String reply = replies.readLine();
        if (reply == null || !reply.startsWith("ok ")) {
            throw new IOException("the direct Graph client answered " + reply + " to " + command);
        }
        return reply.split(" ");
    }

    @Override
    public void close() {
        commands.println("quit");
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    // ------------------------------------------------------------------------------------------- the client's JVM

    public static void main(String[] args) throws Exception {
        URI base = URI.create(args[0]);
        SSLContext tls = SSLContext.getInstance("TLS");
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(Path.of(args[1]))) {
            trust.setCertificateEntry("fake-graph", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        tls.init(null, tmf.getTrustManagers(), null);
        HttpClient http = HttpClient.newBuilder().sslContext(tls).followRedirects(HttpClient.Redirect.NEVER).build();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String token = in.readLine();
        Client c = new Client(http, base, token);
        ExecutorService pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "graph-direct");
            t.setDaemon(true);
            return t;
        });
        for (String line; (line = in.readLine()) != null && !line.equals("quit"); ) {
            String[] a = line.split(" ");
            try {
                String out = switch (a[0]) {
                    case "send" -> String.format(Locale.ROOT, "ok %.6f", c.send(pool, Integer.parseInt(a[1]),
                            Integer.parseInt(a[2]), Integer.parseInt(a[3])));
                    case "read" -> {
                        double[] r = c.read(a[1], Integer.parseInt(a[2]), Long.parseLong(a[3]));
                        yield String.format(Locale.ROOT, "ok %.6f %.3f", r[0], r[1]);
                    }
                    default -> "error unknown command " + a[0];
                };
                System.out.println(out);
            } catch (Exception e) {
                // the parent prints this line as the run's failure; the stack adds nothing it can use
                System.out.println("error " + e.toString().replace('\n', ' '));
            }
            System.out.flush();
        }
        pool.shutdownNow(); // its threads and the HttpClient's are daemons: the JVM ends when main returns
    }

    private record Client(HttpClient http, URI base, String token) {

        URI users(String mailbox, String rest) {
            return URI.create(base + "/users/" + mailbox + rest);
        }

        double send(ExecutorService pool, int mailboxes, int size, int total) throws Exception {
            byte[] body = Messages.message("sink@bench.test", 1, size);
            long t0 = System.nanoTime();
            List<Future<?>> jobs = new ArrayList<>();
            for (int m = 1; m <= mailboxes; m++) {
                String mailbox = Env.user(m);
                jobs.add(pool.submit(() -> {
                    for (int i = 0; i < total / mailboxes; i++) {
                        sendMail(mailbox, body);
                    }
                    return null;
                }));
            }
            for (Future<?> f : jobs) {
                f.get();
            }
            return (System.nanoTime() - t0) / 1e9;
        }

        /** What a program using Graph itself does: the MIME, base64, text/plain, to sendMail; 202 expected. */
        void sendMail(String mailbox, byte[] mime) throws IOException, InterruptedException {
            HttpRequest req = HttpRequest.newBuilder(users(mailbox, "/sendMail"))
                    .header("Authorization", "Bearer " + token).header("Content-Type", "text/plain")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(Base64.getEncoder().encode(mime))).build();
            HttpResponse<Void> r = http.send(req, HttpResponse.BodyHandlers.discarding());
            if (r.statusCode() != 202) {
                throw new IOException("sendMail answered " + r.statusCode());
            }
        }

        private HttpRequest.Builder get(URI uri) {
            return HttpRequest.newBuilder(uri).header("Authorization", "Bearer " + token)
                    .header("Prefer", "IdType=\"ImmutableId\"").GET();
        }

        /** The inbox's message ids, page by page, with the daemon's query (ids, dates, flags, size estimate). */
        List<String> list(String mailbox) throws IOException, InterruptedException {
            String q = "?$select=" + enc("id,receivedDateTime,isRead,isDraft")
                    + "&$expand=" + enc("singleValueExtendedProperties($filter=id eq 'Integer 0x0E08')")
                    + "&$orderby=" + enc("receivedDateTime asc") + "&$top=100";
            URI next = users(mailbox, "/mailFolders/inbox/messages" + q);
            List<String> ids = new ArrayList<>();
            while (next != null) {
                HttpResponse<byte[]> r = http.send(get(next).header("Accept", "application/json").build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                if (r.statusCode() != 200) {
                    throw new IOException("list answered " + r.statusCode());
                }
                JsonNode page = JSON.readTree(r.body());
                for (JsonNode m : page.path("value")) {
                    ids.add(m.path("id").asText());
                }
                JsonNode link = page.get("@odata.nextLink");
                next = link == null ? null : URI.create(link.asText());
            }
            return ids;
        }

        private static String enc(String s) {
            return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
        }

        /** Lists the inbox, then streams each message's $value to its end; {seconds, ms to the first byte}. */
        double[] read(String mailbox, int count, long expected) throws IOException, InterruptedException {
            byte[] buf = new byte[1 << 16];
            long t0 = System.nanoTime();
            List<String> ids = list(mailbox);
            double first = -1;
            long bytes = 0;
            for (String id : ids) {
                HttpResponse<InputStream> r = http.send(get(users(mailbox, "/messages/"
                        + URLEncoder.encode(id, StandardCharsets.UTF_8) + "/$value")).build(),
                        HttpResponse.BodyHandlers.ofInputStream());
                try (InputStream body = r.body()) {
                    if (r.statusCode() != 200) {
                        throw new IOException("$value answered " + r.statusCode());
                    }
                    int n = body.read(buf);
                    if (first < 0) {
                        first = (System.nanoTime() - t0) / 1e6;
                    }
                    while (n > 0) {
                        bytes += n;
                        n = body.read(buf);
                    }
                }
            }
            double s = (System.nanoTime() - t0) / 1e9;
            if (ids.size() != count || bytes != expected) {
                throw new IOException("direct: " + ids.size() + " messages, " + bytes + " octets");
            }
            return new double[] {s, first};
        }
    }
}
