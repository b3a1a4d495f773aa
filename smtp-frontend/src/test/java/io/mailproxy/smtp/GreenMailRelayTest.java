package io.mailproxy.smtp;

import static io.mailproxy.smtp.SmtpTestClient.expect;
import static org.assertj.core.api.Assertions.assertThat;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Relays to GreenMail's SMTP server, a server nobody here wrote (no PIPELINING, no SIZE, no 8BITMIME), and reads
 * the message back from its store.
 */
class GreenMailRelayTest {

    private GreenMail greenMail;
    private Fixture fx;

    @BeforeEach
    void start() throws Exception {
        greenMail = new GreenMail(new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_SMTP).dynamicPort());
        greenMail.start();
        fx = new Fixture(Fixture.listener(Optional.empty()), Fixture.settings(1 << 20, 4096),
                greenMail.getSmtp().getPort());
    }

    @AfterEach
    void stop() throws Exception {
        fx.close();
        greenMail.stop();
    }

    private static String raw(MimeMessage message) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        message.writeTo(out);
        return out.toString(StandardCharsets.ISO_8859_1);
    }

    @Test
    void pipelinedClientThroughANonPipeliningUpstreamDeliversTheExactMessage() throws Exception {
        String headers = "From: App <app@legacy.example>\r\nTo: boss@contoso.com\r\nSubject: via GreenMail\r\n"
                + "Message-ID: <1@legacy.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n";
        String body = "first line\r\n..starts with a dot\r\n\r\nlast line\r\n";
        try (SmtpTestClient c = fx.client().login("app")) {
            c.send("MAIL FROM:<app@legacy.example> BODY=8BITMIME\r\nRCPT TO:<boss@contoso.com>\r\n"
                    + "RCPT TO:<other@contoso.com>\r\nDATA\r\n");
            expect(c.reply(), "250 ");
            expect(c.reply(), "250 ");
            expect(c.reply(), "250 ");
            expect(c.reply(), "354 ");
            c.send(headers + "\r\n" + body + ".\r\n");
            expect(c.reply(), "250 ");
            expect(c.command("QUIT"), "221 ");
        }
        assertThat(greenMail.waitForIncomingEmail(5000, 2)).isTrue();
        MimeMessage[] received = greenMail.getReceivedMessages();
        assertThat(received).hasSize(2);
        String delivered = raw(received[0]);
        // GreenMail prepends Return-Path and Received and keeps the message without its last CRLF
        String expected = headers + "\r\n" + body.replace("..starts", ".starts");
        assertThat(delivered.substring(delivered.indexOf("From: ")))
                .isEqualTo(expected.substring(0, expected.length() - 2));
    }

    @Test
    void rewrittenSenderArrivesAtGreenMail() throws Exception {
        try (SmtpTestClient c = fx.client().login("rewriter")) {
            expect(c.command("MAIL FROM:<scanner@legacy.example>"), "250 ");
            expect(c.command("RCPT TO:<boss@contoso.com>"), "250 ");
            expect(c.command("DATA"), "354 ");
            c.send("From: Scanner <scanner@legacy.example>\r\nSubject: scan\r\n\r\nscan attached\r\n.\r\n");
            expect(c.reply(), "250 ");
        }
        assertThat(greenMail.waitForIncomingEmail(5000, 1)).isTrue();
        MimeMessage message = greenMail.getReceivedMessages()[0];
        assertThat(message.getHeader("From", ",")).isEqualTo("Scanner <reports@contoso.com>");
        assertThat(message.getHeader("Reply-To", ",")).isEqualTo("Scanner <scanner@legacy.example>");
        assertThat(message.getHeader("Return-Path", ",")).contains("reports@contoso.com");
        String delivered = raw(message);
        assertThat(delivered.substring(delivered.indexOf("From: "))).isEqualTo("From: Scanner <reports@contoso.com>\r\n"
                + "Reply-To: Scanner <scanner@legacy.example>\r\nSubject: scan\r\n\r\nscan attached");
    }
}
