package io.mailproxy.interop;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * fetchmail 6.4 (IMAP and POP3) through the proxy, delivering each message to an MDA that writes it to a file.
 * {@code invisible} (no Received: of its own), {@code no stripcr}, {@code no rewrite} and {@code keep}, so what the
 * MDA gets must be the stored message, byte for byte. A direct run against Dovecot (TLS) shows the same settings
 * deliver the exact bytes without the proxy.
 */
@ExtendWith(Interop.Extension.class)
class FetchmailIT {

    static final String USER = "fetchmail@" + Interop.DOMAIN;
    static final String CLIENT = Proxy.client(USER);

    /**
     * fetchmail 6.4 tries STARTTLS even when the server does not offer it, and gives up when it is refused; the
     * proxy's loopback listener is plaintext by design, which {@code sslproto ''} tells fetchmail.
     */
    static final String PLAINTEXT = "  sslproto ''\n";

    Interop env;

    @BeforeEach
    void setUp(Interop env) throws IOException {
        this.env = env;
        env.clear(USER);
    }

    @Test
    void directToDovecotOverTlsDeliversTheStoredBytes() throws IOException {
        List<byte[]> stored = store(Messages.message(USER, USER, "fm direct", 4000, 31));
        String server = "poll 127.0.0.2 service " + env.dovecot.imapsPort() + " protocol IMAP auth password\n"
                + "  user \"" + USER + "\" there with password \"" + env.dovecot.password(USER) + "\" is root here\n"
                + "  ssl sslcertck sslcertfile \"" + env.dovecot.caFile() + "\" sslcommonname localhost\n";
        assertThat(fetch(server)).containsExactlyElementsOf(stored);
    }

    @Test
    void imapThroughTheProxyDeliversTheStoredBytes() throws IOException {
        List<byte[]> stored = store(Messages.message(USER, USER, "fm imap 1", 1024, 32),
                Messages.message(USER, USER, "fm imap 2", 100 * 1024, 33));
        Proxy proxy = env.proxy();
        String server = "poll 127.0.0.1 service " + proxy.imapPort() + " protocol IMAP auth password\n"
                + "  user \"" + CLIENT + "\" there with password \"" + Proxy.secret(CLIENT) + "\" is root here\n"
                + PLAINTEXT;
        assertThat(fetch(server)).containsExactlyElementsOf(stored);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.count("INBOX")).as("keep: nothing deleted").isEqualTo(2);
        }
    }

    @Test
    void pop3ThroughTheProxyDeliversTheStoredBytes() throws IOException {
        List<byte[]> stored = store(Messages.message(USER, USER, "fm pop 1", 1024, 34),
                Messages.message(USER, USER, "fm pop 2", 100 * 1024, 35));
        Proxy proxy = env.proxy();
        String server = "poll 127.0.0.1 service " + proxy.pop3Port() + " protocol POP3 auth password\n"
                + "  user \"" + CLIENT + "\" there with password \"" + Proxy.secret(CLIENT) + "\" is root here\n"
                + PLAINTEXT;
        assertThat(fetch(server)).containsExactlyElementsOf(stored);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.count("INBOX")).as("keep: nothing deleted").isEqualTo(2);
        }
    }

    @Test
    void pop3WithoutKeepDeletesExactlyWhatWasFetched() throws IOException {
        store(Messages.message(USER, USER, "fm del 1", 2000, 36), Messages.message(USER, USER, "fm del 2", 2000, 37));
        Proxy proxy = env.proxy();
        String server = "poll 127.0.0.1 service " + proxy.pop3Port() + " protocol POP3 auth password\n"
                + "  user \"" + CLIENT + "\" there with password \"" + Proxy.secret(CLIENT) + "\" is root here\n"
                + PLAINTEXT;
        assertThat(fetch(server, "nokeep")).hasSize(2);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.count("INBOX")).as("DELE then QUIT expunges upstream").isZero();
        }
    }

    private List<byte[]> store(byte[]... messages) throws IOException {
        try (UpstreamMailbox m = env.mailbox(USER)) {
            for (byte[] msg : messages) {
                m.append("INBOX", msg);
            }
        }
        return List.of(messages);
    }

    private List<byte[]> fetch(String server) throws IOException {
        return fetch(server, "keep");
    }

    /** Runs fetchmail once with {@code server} (a poll entry) and returns the delivered messages in order. */
    private List<byte[]> fetch(String server, String keep) throws IOException {
        Path home = Files.createTempDirectory(env.scratch, "fetchmail");
        Path out = Files.createDirectories(home.resolve("out"));
        Path mda = home.resolve("mda.sh");
        // one file per message, numbered in delivery order
        Files.writeString(mda, "#!/bin/sh\nn=$(ls '" + out + "' | wc -l)\ncat > '" + out
                + "'/$(printf %04d $n).eml\n");
        Files.setPosixFilePermissions(mda, PosixFilePermissions.fromString("rwx------"));
        String rc = "set no bouncemail\nset no syslog\nset invisible\n" + server
                + "  " + keep + " fetchall no rewrite no stripcr no mimedecode\n  mda \"" + mda + "\"\n";
        Path rcFile = home.resolve("fetchmailrc");
        Files.writeString(rcFile, rc);
        Files.setPosixFilePermissions(rcFile, PosixFilePermissions.fromString("rw-------"));
        Proc.Result r = Proc.run(Duration.ofSeconds(120), null,
                Map.of("HOME", home.toString(), "FETCHMAILHOME", home.toString()), home,
                List.of("fetchmail", "-v", "-f", rcFile.toString(), "-i", home.resolve("ids").toString(),
                        "--pidfile", home.resolve("pid").toString()));
        assertThat(r.exit()).as(r.describe()).isZero();
        List<byte[]> delivered = new ArrayList<>();
        try (Stream<Path> files = Files.list(out)) {
            for (Path p : files.sorted().toList()) {
                delivered.add(Files.readAllBytes(p));
            }
        }
        return delivered;
    }
}
