package io.mailproxy.interop;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * Puts messages into a Dovecot mailbox and reads them back exactly, over IMAPS straight to Dovecot (never through
 * the proxy): APPEND with a synchronizing literal, UID FETCH BODY.PEEK[] read as literal bytes.
 */
final class UpstreamMailbox implements AutoCloseable {

    /** A message as stored: its UID, flags and exact bytes. */
    record Stored(long uid, String flags, byte[] bytes) {
    }

    private static final Pattern LITERAL = Pattern.compile("\\{(\\d+)\\}$");
    private static final Pattern APPENDUID = Pattern.compile("\\[APPENDUID \\d+ (\\d+)\\]");
    private static final Pattern UID = Pattern.compile("UID (\\d+)");
    private static final Pattern FLAGS = Pattern.compile("FLAGS \\(([^)]*)\\)");

    private final SSLSocket socket;
    private final InputStream in;
    private final OutputStream out;
    private int tag;

    private UpstreamMailbox(SSLSocket socket) throws IOException {
        this.socket = socket;
        this.in = new BufferedInputStream(socket.getInputStream());
        this.out = socket.getOutputStream();
    }

    static UpstreamMailbox open(DovecotServer dovecot, String user) throws IOException {
        SSLSocket s = (SSLSocket) sslContext(dovecot).getSocketFactory()
                .createSocket(DovecotServer.HOST, dovecot.imapsPort());
        s.setSoTimeout(60_000);
        s.startHandshake();
        UpstreamMailbox m = new UpstreamMailbox(s);
        String greeting = m.readLine();
        if (!greeting.startsWith("* OK")) {
            throw new IOException("unexpected greeting: " + greeting);
        }
        m.ok("LOGIN " + quote(user) + " " + quote(dovecot.password(user)));
        return m;
    }

    /** As {@link #open}, logging in with SASL XOAUTH2 (the oauth2 passdb) instead of the passwd-file. */
    static UpstreamMailbox openXoauth2(DovecotServer dovecot, String user, String token) throws IOException {
        SSLSocket s = (SSLSocket) sslContext(dovecot).getSocketFactory()
                .createSocket(DovecotServer.HOST, dovecot.imapsPort());
        s.setSoTimeout(60_000);
        s.startHandshake();
        UpstreamMailbox m = new UpstreamMailbox(s);
        m.readLine();
        String ir = java.util.Base64.getEncoder().encodeToString(("user=" + user + "\u0001auth=Bearer " + token
                + "\u0001\u0001").getBytes(StandardCharsets.UTF_8));
        m.ok("AUTHENTICATE XOAUTH2 " + ir);
        return m;
    }

    static SSLContext sslContext(DovecotServer dovecot) throws IOException {
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            try (InputStream pem = java.nio.file.Files.newInputStream(dovecot.caFile())) {
                ks.setCertificateEntry("ca", java.security.cert.CertificateFactory.getInstance("X.509")
                        .generateCertificate(pem));
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException(e);
        }
    }

    /** Appends {@code message} to {@code folder} with {@code flags} (e.g. "" or "\\Seen"); returns its UID. */
    long append(String folder, byte[] message, String flags) throws IOException {
        String t = nextTag();
        write(t + " APPEND " + quote(folder) + " (" + flags + ") {" + message.length + "}\r\n");
        String cont = readLine();
        if (!cont.startsWith("+")) {
            throw new IOException("APPEND refused: " + cont);
        }
        out.write(message);
        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        List<String> lines = new ArrayList<>();
        String done = readUntilTagged(t, lines, null);
        Matcher m = APPENDUID.matcher(done);
        if (!done.startsWith(t + " OK") || !m.find()) {
            throw new IOException("APPEND failed: " + done);
        }
        return Long.parseLong(m.group(1));
    }

    long append(String folder, byte[] message) throws IOException {
        return append(folder, message, "");
    }

    /** Every message in {@code folder}, in UID order, with exact bytes (read without setting \Seen). */
    List<Stored> fetchAll(String folder) throws IOException {
        ok("EXAMINE " + quote(folder));
        String t = nextTag();
        write(t + " UID FETCH 1:* (UID FLAGS BODY.PEEK[])\r\n");
        List<Stored> out = new ArrayList<>();
        while (true) {
            String line = readLine();
            if (line.startsWith(t + " ")) {
                if (!line.startsWith(t + " OK")) {
                    throw new IOException("FETCH failed: " + line);
                }
                break;
            }
            Matcher lit = LITERAL.matcher(line);
            byte[] body = null;
            StringBuilder meta = new StringBuilder(line);
            if (lit.find()) {
                body = in.readNBytes(Integer.parseInt(lit.group(1)));
                meta.append(readLine());
            }
            if (body != null) {
                Matcher u = UID.matcher(meta);
                Matcher f = FLAGS.matcher(meta);
                out.add(new Stored(u.find() ? Long.parseLong(u.group(1)) : -1, f.find() ? withoutRecent(f.group(1)) : "", body));
            }
        }
        out.sort((a, b) -> Long.compare(a.uid(), b.uid()));
        return out;
    }

    /** UID to flags of every message in {@code folder}. */
    Map<Long, String> flags(String folder) throws IOException {
        ok("EXAMINE " + quote(folder));
        List<String> lines = new ArrayList<>();
        ok("UID FETCH 1:* (UID FLAGS)", lines);
        Map<Long, String> m = new LinkedHashMap<>();
        for (String l : lines) {
            Matcher u = UID.matcher(l);
            Matcher f = FLAGS.matcher(l);
            if (l.startsWith("* ") && u.find() && f.find()) {
                m.put(Long.parseLong(u.group(1)), withoutRecent(f.group(1)));
            }
        }
        return m;
    }

    int count(String folder) throws IOException {
        List<String> lines = new ArrayList<>();
        ok("STATUS " + quote(folder) + " (MESSAGES)", lines);
        for (String l : lines) {
            Matcher m = Pattern.compile("MESSAGES (\\d+)").matcher(l);
            if (m.find()) {
                return Integer.parseInt(m.group(1));
            }
        }
        throw new IOException("no STATUS MESSAGES in " + lines);
    }

    long uidValidity(String folder) throws IOException {
        List<String> lines = new ArrayList<>();
        ok("STATUS " + quote(folder) + " (UIDVALIDITY)", lines);
        for (String l : lines) {
            Matcher m = Pattern.compile("UIDVALIDITY (\\d+)").matcher(l);
            if (m.find()) {
                return Long.parseLong(m.group(1));
            }
        }
        throw new IOException("no STATUS UIDVALIDITY in " + lines);
    }

    /** Empties INBOX, Trash and Archive. */
    void clear() throws IOException {
        for (String f : List.of("INBOX", "Trash", "Archive")) {
            ok("SELECT " + quote(f));
            command("STORE 1:* +FLAGS.SILENT (\\Deleted)", new ArrayList<>());
            ok("EXPUNGE");
        }
        ok("UNSELECT");
    }

    void ok(String command) throws IOException {
        ok(command, new ArrayList<>());
    }

    void ok(String command, List<String> untagged) throws IOException {
        String done = command(command, untagged);
        if (!done.contains(" OK")) {
            throw new IOException(command + " failed: " + done);
        }
    }

    String command(String command, List<String> untagged) throws IOException {
        String t = nextTag();
        write(t + " " + command + "\r\n");
        return readUntilTagged(t, untagged, null);
    }

    private String readUntilTagged(String t, List<String> untagged, Object unused) throws IOException {
        while (true) {
            String line = readLine();
            Matcher lit = LITERAL.matcher(line);
            while (lit.find()) {
                in.readNBytes(Integer.parseInt(lit.group(1)));
                line = line + "<literal>" + readLine();
                lit = LITERAL.matcher(line);
            }
            if (line.startsWith(t + " ")) {
                return line;
            }
            untagged.add(line);
        }
    }

    private String nextTag() {
        return "u" + (++tag);
    }

    private void write(String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private String readLine() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int prev = -1;
        while (true) {
            int c = in.read();
            if (c < 0) {
                throw new IOException("connection closed by Dovecot after: " + b.toString(StandardCharsets.UTF_8));
            }
            if (c == '\n' && prev == '\r') {
                byte[] bytes = b.toByteArray();
                return new String(bytes, 0, bytes.length - 1, StandardCharsets.UTF_8);
            }
            b.write(c);
            prev = c;
        }
    }

    /** \Recent depends on which session saw a message first, not on what a client did. */
    private static String withoutRecent(String flags) {
        return String.join(" ", java.util.Arrays.stream(flags.split(" "))
                .filter(f -> !f.isEmpty() && !f.equals("\\Recent")).toList());
    }

    static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    @Override
    public void close() throws IOException {
        try {
            write("z LOGOUT\r\n");
        } catch (IOException ignored) {
            // closing anyway
        }
        socket.close();
    }
}
