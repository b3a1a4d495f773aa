package io.mailproxy.daemon.demo;

import io.mailproxy.core.config.ConfigLoader;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.identity.PasswordHasher;
import io.mailproxy.daemon.Daemon;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The demo: GreenMail as a TLS upstream with a demo mailbox, a config pointing the proxy at it, and the proxy's
 * plaintext listeners on localhost. The account logs in upstream with a password (the demo has no identity
 * provider); with Office 365 it would be XOAUTH2, which the tests cover against a fake Microsoft identity platform.
 */
public final class Demo implements AutoCloseable {

    public static final String CLIENT = "demo";
    public static final String CLIENT_PASSWORD = "demo";

    private final Path dir;
    private final DemoUpstream upstream;
    private final MailproxyConfig config;
    private final Daemon daemon;

    private Demo(Path dir, DemoUpstream upstream, MailproxyConfig config, Daemon daemon) {
        this.dir = dir;
        this.upstream = upstream;
        this.config = config;
        this.daemon = daemon;
    }

    public static Demo start(int imapPort, int pop3Port, int smtpPort) throws Exception {
        Path dir = Files.createTempDirectory("mailproxy-demo-");
        DemoUpstream upstream = null;
        try {
            DemoCertificate cert = DemoCertificate.mint(dir);
            upstream = DemoUpstream.start(cert.keystore(), cert.keystorePassword());
            String hocon = config(dir, cert.certificatePem(), upstream, imapPort, pop3Port, smtpPort,
                    PasswordHasher.hash(CLIENT_PASSWORD.getBytes(StandardCharsets.UTF_8)));
            Path file = dir.resolve("demo.conf");
            Files.writeString(file, hocon);
            MailproxyConfig config = ConfigLoader.load(file);
            Daemon daemon = Daemon.start(config, Map.of("MAILPROXY_MASTER_KEY", cert.masterKey()));
            return new Demo(dir, upstream, config, daemon);
        } catch (Exception | Error e) {
            if (upstream != null) {
                upstream.close();
            }
            deleteTree(dir);
            throw e;
        }
    }

    static String config(Path dir, Path caFile, DemoUpstream up, int imapPort, int pop3Port, int smtpPort,
                         String clientHash) {
        return """
                # Written by ./mailproxy demo; see conf/mailproxy.conf for a real Office 365 configuration.
                mailproxy {
                  state-dir = "%s"
                  listeners = [
                    { protocol = imap, bind = "127.0.0.1", port = %d }
                    { protocol = pop3, bind = "127.0.0.1", port = %d }
                    { protocol = smtp, bind = "127.0.0.1", port = %d }
                  ]
                  upstreams.demo {
                    imap = "imaps://127.0.0.1:%d"
                    pop3 = "pop3s://127.0.0.1:%d"
                    smtp = "smtps://127.0.0.1:%d"
                    ca-file = "%s"
                  }
                  accounts."%s" {
                    upstream = demo
                    auth { type = password, password = "%s" }
                  }
                  clients.%s {
                    password = "%s"
                    account = "%s"
                    protocols = [imap, pop3, smtp]
                    pop3 { source = imap, folder = INBOX, on-delete = keep }
                  }
                  admin { port = 0 }
                }
                """.formatted(dir.resolve("state"), imapPort, pop3Port, smtpPort, up.imapsPort(), up.pop3sPort(),
                up.smtpsPort(), caFile, DemoUpstream.MAILBOX, DemoUpstream.PASSWORD, CLIENT, clientHash,
                DemoUpstream.MAILBOX);
    }

    /** The ready line (which .ci/demo-smoke waits for) and curl commands that work through the proxy. */
    public void printInstructions(PrintStream out) {
        int imap = port("imap");
        int pop3 = port("pop3");
        int smtp = port("smtp");
        String user = CLIENT + ":" + CLIENT_PASSWORD;
        out.println("demo ready: mailproxy is relaying plaintext IMAP, POP3 and SMTP on 127.0.0.1 to an embedded "
                + "TLS mail server (mailbox " + DemoUpstream.MAILBOX + ", " + upstream.messageCount() + " messages).");
        out.println("Log in as '" + CLIENT + "' with password '" + CLIENT_PASSWORD + "'. Try:");
        out.println();
        out.println("  curl -sS --user " + user + " 'imap://127.0.0.1:" + imap + "/INBOX' -X 'FETCH 1:* (FLAGS ENVELOPE)'");
        out.println("  curl -sS --user " + user + " 'imap://127.0.0.1:" + imap + "/INBOX;UID=1'");
        out.println("  curl -sS --user " + user + " 'pop3://127.0.0.1:" + pop3 + "/'");
        out.println("  curl -sS --user " + user + " 'pop3://127.0.0.1:" + pop3 + "/1'");
        out.println("  printf 'Subject: hello from curl\\r\\n\\r\\nSent through mailproxy.\\r\\n' | curl -sS --user " + user
                + " 'smtp://127.0.0.1:" + smtp + "' --mail-from " + DemoUpstream.MAILBOX + " --mail-rcpt "
                + DemoUpstream.MAILBOX + " -T - -w '%{response_code}\\n'");
        out.println();
        out.println("Press Ctrl-C to stop.");
        out.flush();
    }

    /** The port the listener really bound (the config may ask for 0, a free port). */
    public int port(String protocol) {
        java.util.List<java.net.InetSocketAddress> bound = daemon.boundAddresses();
        for (int i = 0; i < config.listeners().size(); i++) {
            if (config.listeners().get(i).protocol().configName().equals(protocol)) {
                return bound.get(i).getPort();
            }
        }
        throw new IllegalArgumentException("the demo has no " + protocol + " listener");
    }

    public Daemon daemon() {
        return daemon;
    }

    public MailproxyConfig config() {
        return config;
    }

    @Override
    public void close() {
        try {
            daemon.close();
        } finally {
            try {
                upstream.close();
            } finally {
                deleteTree(dir);
            }
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // best effort: a temp dir left behind is harmless
        }
    }
}
