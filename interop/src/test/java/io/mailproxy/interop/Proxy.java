package io.mailproxy.interop;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.ConfigLoader;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.identity.PasswordHasher;
import io.mailproxy.core.spi.FrontendFactory;
import io.mailproxy.daemon.Daemon;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * mailproxy in the test JVM ({@link Daemon#start}), with plaintext IMAP, POP3 and SMTP listeners on 127.0.0.1 and
 * every account's upstream pointing at Dovecot with the harness CA as {@code ca-file}. Accounts log in upstream with
 * a password, except {@link Interop#OAUTH_USER}, which uses an app-only token from the fake identity platform
 * (XOAUTH2 checked by Dovecot's oauth2 passdb).
 *
 * <p>Local clients: {@code app-LOCAL} / {@code secret-LOCAL} for each mailbox LOCAL@example.test (POP3 passes
 * through to Dovecot's POP3), and {@code pop-expunge}, {@code pop-keep}, {@code pop-seen}, {@code pop-trash},
 * {@code pop-archive} serving POP3 from pop3imap@'s IMAP INBOX with each on-delete policy; on clients@ also
 * {@code pop-clients} (POP3 from IMAP), {@code folders-clients} (allow-list INBOX, Archive) and {@code ro-clients}
 * (read-only), for {@link MoreClientsIT}. Upstream {@code graph} is Microsoft Graph (testkit's fake), with the
 * accounts and clients {@link GraphUpstream} lists, for {@link GraphIT}.
 */
final class Proxy implements AutoCloseable {

    static final String HOST = "127.0.0.1";
    static final String POP3IMAP_USER = "pop3imap@" + Interop.DOMAIN;
    static final Map<String, String> ON_DELETE = new LinkedHashMap<>();
    /** A client whose account's upstream URLs name 127.0.0.1, which Dovecot's certificate does not cover. */
    static final String WRONG_NAME_CLIENT = "app-wrongname";
    static final String WRONG_NAME_MAILBOX = "faults@" + Interop.DOMAIN;
    /** POP3 served from clients@'s IMAP INBOX (on-delete expunge), for real POP3 clients against the translator. */
    static final String POP3IMAP_CLIENTS = "pop-clients";
    /** IMAP on clients@ limited to the folders INBOX and Archive. */
    static final String FOLDERS_CLIENTS = "folders-clients";
    /** Read-only IMAP on clients@. */
    static final String READ_ONLY_CLIENTS = "ro-clients";

    static {
        ON_DELETE.put("pop-expunge", "expunge");
        ON_DELETE.put("pop-keep", "keep");
        ON_DELETE.put("pop-seen", "seen");
        ON_DELETE.put("pop-trash", "move:\\\\Trash");
        ON_DELETE.put("pop-archive", "move:Archive");
    }

    final Daemon daemon;
    private final Map<Protocol, Integer> ports;
    final String config;
    /** {@link #config} as a file, for the command line. */
    final Path configFile;

    private Proxy(Daemon daemon, Map<Protocol, Integer> ports, String config, Path configFile) {
        this.daemon = daemon;
        this.ports = ports;
        this.config = config;
        this.configFile = configFile;
    }

    int imapPort() {
        return port(Protocol.IMAP);
    }

    int pop3Port() {
        return port(Protocol.POP3);
    }

    int smtpPort() {
        return port(Protocol.SMTP);
    }

    /** The listener's port; a check of a protocol whose frontend is not on the class path fails, saying so. */
    private int port(Protocol p) {
        Integer port = ports.get(p);
        if (port == null) {
            throw new AssertionError("mailproxy has no " + p + " frontend on the class path (its module is not"
                    + " merged yet), so nothing listens for " + p);
        }
        return port;
    }

    static String client(String mailbox) {
        return "app-" + mailbox.substring(0, mailbox.indexOf('@'));
    }

    static String secret(String client) {
        return "secret-" + client;
    }

    static Proxy start(Interop env) throws IOException {
        long t0 = System.nanoTime();
        Map<Protocol, Integer> ports = new java.util.EnumMap<>(Protocol.class);
        for (FrontendFactory f : ServiceLoader.load(FrontendFactory.class)) {
            ports.put(f.protocol(), freePort());
        }
        Path state = Files.createDirectories(env.scratch.resolve("proxy-state"));
        StringBuilder c = new StringBuilder();
        c.append("mailproxy {\n");
        c.append("  state-dir = ").append(q(state.toString())).append('\n');
        c.append("  admin { enabled = false }\n");
        c.append("  listeners = [\n");
        ports.forEach((p, port) -> c.append("    { protocol = ").append(p.name().toLowerCase(java.util.Locale.ROOT))
                .append(", bind = \"127.0.0.1\", port = ").append(port).append(" }\n"));
        c.append("  ]\n");
        c.append("  upstreams.dovecot {\n");
        c.append("    imap = ").append(q(env.dovecot.imapsUrl())).append('\n');
        c.append("    pop3 = ").append(q(env.dovecot.pop3sUrl())).append('\n');
        c.append("    smtp = ").append(q(env.dovecot.submissionUrl())).append('\n');
        c.append("    ca-file = ").append(q(env.dovecot.caFile().toString())).append('\n');
        c.append("    connect-timeout = 5s, handshake-timeout = 5s, reply-timeout = 20s\n");
        c.append("  }\n");
        c.append("  upstreams.wrongname {\n");
        c.append("    imap = \"imaps://" + DovecotServer.WRONG_NAME_HOST + ":" + env.dovecot.imapsPort() + "\"\n");
        c.append("    pop3 = \"pop3s://" + DovecotServer.WRONG_NAME_HOST + ":" + env.dovecot.pop3sPort() + "\"\n");
        c.append("    smtp = \"smtp+starttls://" + DovecotServer.WRONG_NAME_HOST + ":" + env.dovecot.submissionPort()
                + "\"\n");
        c.append("    ca-file = ").append(q(env.dovecot.caFile().toString())).append('\n');
        c.append("  }\n");
        env.graph.upstreamConfig(c);
        c.append("  oauth2.flaky {\n");
        c.append("    token-endpoint = ").append(q(env.identity.flaky.tokenEndpoint(IdentityStub.TENANT).toString()))
                .append('\n');
        c.append("    client-id = ").append(q(env.identity.clientId)).append('\n');
        c.append("    client-secret = ").append(q(env.identity.clientSecret)).append('\n');
        c.append("  }\n");
        c.append("  oauth2.short {\n");
        c.append("    token-endpoint = ").append(q(env.identity.shortLived.tokenEndpoint(IdentityStub.TENANT)
                .toString())).append('\n');
        c.append("    device-authorization-endpoint = ").append(q(env.identity.shortLived
                .deviceCodeEndpoint(IdentityStub.TENANT).toString())).append('\n');
        c.append("    client-id = ").append(q(env.identity.clientId)).append('\n');
        c.append("    client-secret = ").append(q(env.identity.clientSecret)).append('\n');
        c.append("  }\n");
        // tokens of the short-lived platform live 45 s: move an IMAP session 8 s before (the last fifth of a token's
        // life, 9 s here, is when the token service fetches a new one instead of handing out the cached one)
        c.append("  imap { token-handover-margin = 8s }\n");
        c.append("  oauth2.fake {\n");
        c.append("    token-endpoint = ").append(q(env.identity.tokenEndpoint())).append('\n');
        c.append("    client-id = ").append(q(env.identity.clientId)).append('\n');
        c.append("    client-secret = ").append(q(env.identity.clientSecret)).append('\n');
        c.append("  }\n");
        c.append("  accounts {\n");
        for (Map.Entry<String, String> u : Interop.USERS.entrySet()) {
            String mailbox = u.getKey();
            c.append("    ").append(q(mailbox)).append(" {\n      upstream = dovecot\n");
            if (mailbox.equals(Interop.OAUTH_USER)) {
                c.append("      auth { type = oauth2, provider = fake, grant = client-credentials }\n");
            } else if (mailbox.equals(Interop.FLAKY_USER)) {
                c.append("      auth { type = oauth2, provider = flaky, grant = client-credentials }\n");
            } else if (mailbox.equals(Interop.IDLE_USER)) {
                c.append("      auth { type = oauth2, provider = short, grant = client-credentials }\n");
            } else if (mailbox.equals(Interop.DELEGATED_USER)) {
                c.append("      auth { type = oauth2, provider = short, grant = refresh-token }\n");
            } else {
                c.append("      auth { type = password, password = ").append(q(u.getValue())).append(" }\n");
            }
            c.append("      pool.imap { max = 8, min-idle = 0 }\n");
            c.append("    }\n");
        }
        c.append("    wrongname { mailbox = ").append(q(WRONG_NAME_MAILBOX)).append(", upstream = wrongname, auth { type = password, password = ")
                .append(q(env.dovecot.password(WRONG_NAME_MAILBOX))).append(" }, pool.imap { min-idle = 0 } }\n");
        env.graph.accountConfig(c);
        c.append("  }\n");
        c.append("  clients {\n");
        c.append("    ").append(q(WRONG_NAME_CLIENT)).append(" { account = wrongname, password = ")
                .append(q(hash(secret(WRONG_NAME_CLIENT)))).append(" }\n");
        for (String mailbox : Interop.USERS.keySet()) {
            String client = client(mailbox);
            c.append("    ").append(q(client)).append(" { account = ").append(q(mailbox))
                    .append(", password = ").append(q(hash(secret(client))));
            if (mailbox.startsWith("badinput@")) {
                c.append(", smtp { max-size = 1M }"); // the never-ending DATA hits this
            }
            c.append(" }\n");
        }
        for (Map.Entry<String, String> p : ON_DELETE.entrySet()) {
            c.append("    ").append(q(p.getKey())).append(" { account = ").append(q(POP3IMAP_USER))
                    .append(", password = ").append(q(hash(secret(p.getKey()))))
                    .append(", pop3 { source = imap, folder = INBOX, on-delete = \"").append(p.getValue())
                    .append("\" } }\n");
        }
        c.append("    ").append(q(POP3IMAP_CLIENTS)).append(" { account = ").append(q("clients@" + Interop.DOMAIN))
                .append(", password = ").append(q(hash(secret(POP3IMAP_CLIENTS))))
                .append(", pop3 { source = imap, folder = INBOX, on-delete = expunge } }\n");
        c.append("    ").append(q(FOLDERS_CLIENTS)).append(" { account = ").append(q("clients@" + Interop.DOMAIN))
                .append(", password = ").append(q(hash(secret(FOLDERS_CLIENTS))))
                .append(", imap { folders = [INBOX, Archive] } }\n");
        c.append("    ").append(q(READ_ONLY_CLIENTS)).append(" { account = ").append(q("clients@" + Interop.DOMAIN))
                .append(", password = ").append(q(hash(secret(READ_ONLY_CLIENTS))))
                .append(", imap { read-only = true } }\n");
        env.graph.clientConfig(c, Proxy::hash);
        c.append("  }\n}\n");
        String hocon = c.toString();
        Path file = env.scratch.resolve("mailproxy.conf");
        Files.writeString(file, hocon); // for the CLI (mailproxy login), which talks to this daemon's control socket
        MailproxyConfig config = ConfigLoader.parse(hocon, "interop");
        Daemon daemon = Daemon.start(config, Map.of());
        System.out.printf("interop: mailproxy up in %d ms (listeners %s; bound %s)%n",
                (System.nanoTime() - t0) / 1_000_000, ports, daemon.boundAddresses());
        return new Proxy(daemon, ports, hocon, file);
    }

    String imapUrl(String client) {
        return "imap://" + client + ":" + secret(client) + "@" + HOST + ":" + imapPort();
    }

    String pop3Url(String client) {
        return "pop3://" + client + ":" + secret(client) + "@" + HOST + ":" + pop3Port();
    }

    String smtpUrl() {
        return "smtp://" + HOST + ":" + smtpPort();
    }

    /**
     * An Argon2id PHC hash with small parameters (1 MiB, 1 pass): this suite checks relaying, not the cost of a
     * local login, and 2 cores hash 15 clients at the default 19 MiB in several seconds. Checked with the proxy's
     * own verifier so a format the daemon would refuse fails here, not in every check.
     */
    static String hash(String password) {
        byte[] pw = password.getBytes(StandardCharsets.UTF_8);
        byte[] salt = new byte[16];
        new java.security.SecureRandom().nextBytes(salt);
        org.bouncycastle.crypto.generators.Argon2BytesGenerator g = new org.bouncycastle.crypto.generators.Argon2BytesGenerator();
        g.init(new org.bouncycastle.crypto.params.Argon2Parameters.Builder(
                org.bouncycastle.crypto.params.Argon2Parameters.ARGON2_id)
                .withVersion(org.bouncycastle.crypto.params.Argon2Parameters.ARGON2_VERSION_13)
                .withMemoryAsKB(1024).withIterations(1).withParallelism(1).withSalt(salt).build());
        byte[] out = new byte[32];
        g.generateBytes(pw, out);
        java.util.Base64.Encoder b64 = java.util.Base64.getEncoder().withoutPadding();
        String phc = "$argon2id$v=19$m=1024,t=1,p=1$" + b64.encodeToString(salt) + "$" + b64.encodeToString(out);
        if (!PasswordHasher.verify(pw, phc)) {
            throw new IllegalStateException("the proxy does not verify the test's Argon2id hash");
        }
        return phc;
    }

    private static String q(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return s.getLocalPort();
        }
    }

    @Override
    public void close() {
        daemon.close();
    }
}
