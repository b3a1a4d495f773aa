package io.mailproxy.smtp.queue;

import static org.assertj.core.api.Assertions.assertThat;

import jakarta.mail.BodyPart;
import jakarta.mail.Session;
import jakarta.mail.internet.ContentType;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

class BounceTest {

    private static final String ORIGINAL = "From: App <app@legacy.example>\r\nTo: a@x.com, b@x.com\r\n"
            + "Subject: monthly report\r\nMessage-ID: <m1@legacy.example>\r\n..X-Dotted: yes\r\n\r\n"
            + "secret body\r\n..stuffed\r\n";

    private static byte[] unstuff(byte[] stuffed) {
        String s = new String(stuffed, StandardCharsets.ISO_8859_1);
        assertThat(s).endsWith("\r\n");
        return s.replaceAll("(?m)^\\.\\.", ".").getBytes(StandardCharsets.ISO_8859_1);
    }

    @Test
    void isAMultipartReportWithTheDeliveryStatusAndTheOriginalHeaders() throws Exception {
        Envelope env = new Envelope("MWW-0123456789", "reports@contoso.com", "app", "app@legacy.example",
                "app@legacy.example", List.of(), List.of("a@x.com", "b@x.com"), Instant.parse("2026-11-25T10:00:00Z"), 1);
        Map<String, String> failed = new LinkedHashMap<>();
        failed.put("b@x.com", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found");
        byte[] dsn = Bounce.build(env, failed, List.of("postmaster@contoso.com"), "reports@contoso.com", "mx.test",
                new ByteArrayInputStream(ORIGINAL.getBytes(StandardCharsets.ISO_8859_1)), 64 * 1024,
                Instant.parse("2026-11-25T11:00:00Z"));
        String wire = new String(dsn, StandardCharsets.ISO_8859_1);
        assertThat(wire).doesNotContain("\n\n").doesNotContainPattern("[^\r]\n");

        MimeMessage m = new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(unstuff(dsn)));
        assertThat(m.getHeader("Auto-Submitted", null)).isEqualTo("auto-replied");
        assertThat(m.getFrom()[0].toString()).contains("reports@contoso.com");
        assertThat(m.getAllRecipients()).extracting(Object::toString).containsExactly("postmaster@contoso.com");
        ContentType type = new ContentType(m.getContentType());
        assertThat(type.getBaseType()).isEqualTo("multipart/report");
        assertThat(type.getParameter("report-type")).isEqualTo("delivery-status");
        MimeMultipart parts = (MimeMultipart) m.getContent();
        assertThat(parts.getCount()).isEqualTo(3);
        assertThat(parts.getBodyPart(0).getContentType()).startsWith("text/plain");
        assertThat((String) parts.getBodyPart(0).getContent()).contains("<b@x.com>: 550 5.1.10")
                .contains("MWW-0123456789");
        BodyPart status = parts.getBodyPart(1);
        assertThat(status.getContentType()).isEqualTo("message/delivery-status");
        String fields = text(status);
        assertThat(fields).contains("Reporting-MTA: dns; mx.test\r\n")
                .contains("Final-Recipient: rfc822; b@x.com\r\nAction: failed\r\nStatus: 5.1.10\r\n"
                        + "Diagnostic-Code: smtp; 550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found\r\n")
                .doesNotContain("a@x.com");
        BodyPart headers = parts.getBodyPart(2);
        assertThat(headers.getContentType()).isEqualTo("text/rfc822-headers");
        assertThat(text(headers)).isEqualTo("From: App <app@legacy.example>\r\nTo: a@x.com, b@x.com\r\n"
                + "Subject: monthly report\r\nMessage-ID: <m1@legacy.example>\r\n.X-Dotted: yes\r\n");
        assertThat(wire).doesNotContain("secret body");
    }

    @Test
    void expiredMessagesGetStatus447() {
        assertThat(Bounce.statusCode("4.4.7 Delivery time expired after 9 attempt(s); last: 451 4.4.1 x"))
                .isEqualTo("4.4.7");
        assertThat(Bounce.statusCode("550 5.7.60 SMTP; Client does not have permissions")).isEqualTo("5.7.60");
        assertThat(Bounce.statusCode("554 Transaction failed")).isEqualTo("5.0.0");
    }

    @Test
    void stuffingDoublesLeadingDotsAndEndsWithCrlf() {
        assertThat(new String(Bounce.stuff(".a\r\nb\n.\r\nc".getBytes(StandardCharsets.US_ASCII)),
                StandardCharsets.US_ASCII)).isEqualTo("..a\r\nb\r\n..\r\nc\r\n");
    }

    private static String text(BodyPart part) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        part.getDataHandler().writeTo(out);
        return out.toString(StandardCharsets.UTF_8);
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', value = {
        "app@legacy.example | true",
        "app@contoso.com | true",
        "app@host | false",
        "app@printer.local | false",
        "app@box.localdomain | false",
        "app@nas.lan | false",
        "app@srv.internal | false",
        "app@x.invalid | false",
        "app@h.home.arpa | false",
        "app@mx.test | false",
        "@contoso.com | false",
        "app@ | false",
    })
    void onlyARoutableSenderGetsABounce(String address, boolean routable) {
        assertThat(Bounce.routable(address)).isEqualTo(routable);
    }

    @org.junit.jupiter.api.Test
    void aBounceGoesToTheAdministratorThenTheRoutableSenderOnce() {
        Envelope env = new Envelope("MWW-0123456789", "reports@contoso.com", "app", "app@legacy.example",
                "app@legacy.example", List.of(), List.of("a@x.com"), Instant.EPOCH, 10);
        assertThat(Bounce.recipients(env, java.util.Optional.of("postmaster@contoso.com"), true))
                .containsExactly("postmaster@contoso.com", "app@legacy.example");
        assertThat(Bounce.recipients(env, java.util.Optional.of("app@legacy.example"), true))
                .containsExactly("app@legacy.example");
        assertThat(Bounce.recipients(env, java.util.Optional.empty(), false)).isEmpty();
        Envelope local = new Envelope("MWW-0123456789", "reports@contoso.com", "app", "app@printer.local",
                "app@printer.local", List.of(), List.of("a@x.com"), Instant.EPOCH, 10);
        assertThat(Bounce.recipients(local, java.util.Optional.empty(), true)).isEmpty();
        assertThat(Bounce.isBounce(env)).isFalse();
        Envelope nullSender = new Envelope("MWW-0123456789", "reports@contoso.com", "app", "", "", List.of(),
                List.of("a@x.com"), Instant.EPOCH, 10);
        assertThat(Bounce.isBounce(nullSender)).isTrue();
        Envelope dsn = new Envelope("MWW-0123456789-DSN", "reports@contoso.com", "app", "reports@contoso.com",
                "reports@contoso.com", List.of(), List.of("a@x.com"), Instant.EPOCH, 10);
        assertThat(Bounce.isBounce(dsn)).isTrue();
    }
}
