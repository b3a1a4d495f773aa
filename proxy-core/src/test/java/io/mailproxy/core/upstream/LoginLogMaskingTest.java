package io.mailproxy.core.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import io.mailproxy.testkit.Office365;
import io.mailproxy.testkit.ScriptedUpstream;
import io.mailproxy.testkit.TestCertificates;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** With the connector's debug log on, no token, password or SASL response reaches a log line or an exception. */
class LoginLogMaskingTest {

    private static final String MAILBOX = "reports@contoso.com";
    private static final String TOKEN = "EwB4A-SECRET-ACCESS-TOKEN-VALUE";
    private static final String PASSWORD = "Pa55-SECRET-password";
    private static final TestCertificates CERTS = TestCertificates.shared();

    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();
    private final Logger logger = (Logger) LoggerFactory.getLogger("io.mailproxy");
    private Level previous;
    private final List<String> failures = new ArrayList<>();

    @BeforeEach
    void capture() {
        previous = logger.getLevel();
        logger.setLevel(Level.DEBUG);
        appender.start();
        logger.addAppender(appender);
    }

    @AfterEach
    void release() {
        logger.detachAppender(appender);
        logger.setLevel(previous);
    }

    @Test
    void noSecretInDebugLogOrFailure() throws Exception {
        try (ConnectorFixture f = new ConnectorFixture().caFile(CERTS.caPem()).bearer(MAILBOX, TOKEN);
             ScriptedUpstream smtp = Office365.smtp(CERTS.server()).account(MAILBOX, TOKEN).start();
             ScriptedUpstream imap = Office365.imap(CERTS.server()).account(MAILBOX, TOKEN).start();
             ScriptedUpstream pop3 = Office365.pop3(CERTS.server()).account(MAILBOX, TOKEN).start();
             ScriptedUpstream rejecting = Office365.imap(CERTS.server()).account(MAILBOX, "other")
                     .xoauth2ErrorChallenge().start()) {
            f.session("smtp+starttls://127.0.0.1:" + smtp.port());
            f.session("imaps://127.0.0.1:" + imap.port());
            f.session("pop3s://127.0.0.1:" + pop3.port());
            failures.add(f.failure("imaps://127.0.0.1:" + rejecting.port()).toString());
        }
        try (ConnectorFixture f = new ConnectorFixture().caFile(CERTS.caPem()).password(MAILBOX, PASSWORD);
             ScriptedUpstream smtpLogin = Office365.smtp(CERTS.server()).account(MAILBOX, PASSWORD).start();
             ScriptedUpstream imapPlain = Office365.imap(CERTS.server()).account(MAILBOX, PASSWORD).start();
             ScriptedUpstream imapLogin = Office365.imap(CERTS.server()).account(MAILBOX, PASSWORD).builder()
                     .on("CAPABILITY", ex -> ex.reply("* CAPABILITY IMAP4rev1", ex.tag() + " OK CAPABILITY completed."))
                     .start();
             ScriptedUpstream pop3User = Office365.pop3(CERTS.server()).account(MAILBOX, PASSWORD).builder()
                     .on("CAPA", ex -> ex.reply("+OK", "USER", ".")).start();
             ScriptedUpstream pop3Wrong = Office365.pop3(CERTS.server()).account(MAILBOX, "other").start()) {
            f.session("smtp+starttls://127.0.0.1:" + smtpLogin.port());
            f.session("imaps://127.0.0.1:" + imapPlain.port());
            f.session("imaps://127.0.0.1:" + imapLogin.port());
            f.session("pop3s://127.0.0.1:" + pop3User.port());
            failures.add(f.failure("pop3s://127.0.0.1:" + pop3Wrong.port()).toString());
            assertThat(imapLogin.received()).contains("A2 LOGIN \"" + MAILBOX + "\" \"" + PASSWORD + "\"");
            assertThat(pop3User.received()).contains("PASS " + PASSWORD);
        }

        List<String> lines = new ArrayList<>(failures);
        for (ILoggingEvent e : appender.list) {
            lines.add(e.getFormattedMessage() + (e.getThrowableProxy() == null ? "" : ThrowableProxyUtil.asString(e.getThrowableProxy())));
        }
        // the log did record the dialogues, with the secrets masked
        assertThat(lines).anyMatch(l -> l.endsWith("C: AUTH XOAUTH2 ****"));
        assertThat(lines).anyMatch(l -> l.endsWith("C: A2 AUTHENTICATE XOAUTH2 ****"));
        assertThat(lines).anyMatch(l -> l.endsWith("C: A2 LOGIN \"" + MAILBOX + "\" ****"));
        assertThat(lines).anyMatch(l -> l.endsWith("C: PASS ****"));
        assertThat(lines).anyMatch(l -> l.contains("C: ****"));
        String xoauth2 = b64("user=" + MAILBOX + "\u0001auth=Bearer " + TOKEN + "\u0001\u0001");
        for (String secret : List.of(TOKEN, PASSWORD, xoauth2, b64("\0" + MAILBOX + "\0" + PASSWORD), b64(PASSWORD),
                b64(TOKEN))) {
            assertThat(lines).noneMatch(l -> l.contains(secret));
        }
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }
}
