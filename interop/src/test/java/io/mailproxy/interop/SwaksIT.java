package io.mailproxy.interop;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * swaks (SMTP AUTH PLAIN and LOGIN) through the proxy to Dovecot's submission service, which relays to the sink. The
 * direct run (STARTTLS to Dovecot) shows what swaks itself does to the data, so the proxied runs can be exact.
 */
@ExtendWith(Interop.Extension.class)
class SwaksIT {

    static final String USER = "swaks@" + Interop.DOMAIN;
    static final String CLIENT = Proxy.client(USER);

    Interop env;

    @BeforeEach
    void setUp(Interop env) {
        this.env = env;
    }

    @Test
    void directToDovecotWithStarttlsArrivesByteIdentical() throws IOException {
        String rcpt = "swaks-direct@elsewhere.test";
        byte[] msg = Messages.message(USER, rcpt, "swaks direct", 3000, 41);
        Proc.Result r = swaks(DovecotServer.HOST, env.dovecot.submissionPort(), "PLAIN", USER,
                env.dovecot.password(USER), msg, List.of(rcpt), "--tls");
        assertThat(r.exit()).as(r.describe()).isZero();
        assertArrived(rcpt, msg);
    }

    @ParameterizedTest(name = "AUTH {0}")
    @ValueSource(strings = {"PLAIN", "LOGIN"})
    void sendThroughTheProxyArrivesByteIdentical(String mechanism) throws IOException {
        Proxy proxy = env.proxy();
        String rcpt = "swaks-" + mechanism.toLowerCase() + "@elsewhere.test";
        byte[] msg = Messages.message(USER, rcpt, "swaks " + mechanism, 20 * 1024, 42);
        Proc.Result r = swaks(Proxy.HOST, proxy.smtpPort(), mechanism, CLIENT, Proxy.secret(CLIENT), msg,
                List.of(rcpt));
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).contains("<-  250");
        assertArrived(rcpt, msg);
    }

    @Test
    void recipientTheUpstreamRejectsIsRejectedToTheClient() throws IOException {
        Proxy proxy = env.proxy();
        String rcpt = "reject-swaks@elsewhere.test";
        Proc.Result r = swaks(Proxy.HOST, proxy.smtpPort(), "PLAIN", CLIENT, Proxy.secret(CLIENT),
                Messages.small(USER, rcpt, "swaks reject"), List.of(rcpt));
        assertThat(r.exit()).as(r.describe()).isEqualTo(24); // swaks: no recipients accepted
        assertThat(r.out()).containsPattern("<\\*\\* +550");
        assertThat(env.sink.messagesTo(rcpt)).isEmpty();
    }

    @Test
    void wrongPasswordGets535() throws IOException {
        Proxy proxy = env.proxy();
        Proc.Result r = swaks(Proxy.HOST, proxy.smtpPort(), "PLAIN", CLIENT, "wrong",
                Messages.small(USER, "x@elsewhere.test", "swaks wrong"), List.of("x@elsewhere.test"));
        assertThat(r.exit()).as(r.describe()).isEqualTo(28); // swaks: AUTH failed
        assertThat(r.out()).containsPattern("<\\*\\* +535 5\\.7\\.8");
    }

    private void assertArrived(String rcpt, byte[] msg) {
        List<SmtpSink.Received> got = env.sink.messagesTo(rcpt);
        assertThat(got).hasSize(1);
        Exact.assertRelayed(got.get(0).data(), msg);
    }

    private Proc.Result swaks(String host, int port, String mech, String user, String password, byte[] msg,
                              List<String> rcpts, String... more) throws IOException {
        // swaks ends DATA with CRLF . CRLF after the data it was given: hand it the message without its last CRLF
        Path file = Files.write(env.scratch.resolve("swaks-" + System.nanoTime() + ".eml"),
                java.util.Arrays.copyOf(msg, msg.length - 2));
        List<String> cmd = new ArrayList<>(List.of("swaks", "--server", host, "--port", "" + port,
                "--auth", mech, "--auth-user", user, "--auth-password", password, "--from", USER,
                "--to", String.join(",", rcpts), "--data", "@" + file, "--timeout", "60"));
        if (more.length > 0 && more[0].equals("--tls")) {
            cmd.addAll(List.of("--tls", "--tls-verify", "--tls-ca-path", env.dovecot.caFile().toString()));
        }
        return Proc.run(Duration.ofSeconds(90), cmd);
    }
}
