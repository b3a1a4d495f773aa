package io.mailproxy.smtp.queue;

import jakarta.activation.DataHandler;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.internet.ContentType;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MailDateFormat;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import jakarta.mail.util.ByteArrayDataSource;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UnsupportedEncodingException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;

/**
 * A delivery status notification (RFC 3464) for the recipients a queued message could not reach:
 * {@code multipart/report; report-type=delivery-status} (RFC 6522) with a readable part, the
 * {@code message/delivery-status} part and the original message's header block ({@code text/rfc822-headers}),
 * marked {@code Auto-Submitted: auto-replied} (RFC 3834) and sent from the null sender, so it never gets a bounce
 * itself.
 */
final class Bounce {

    private Bounce() { }

    /**
     * @param from      the From: address (the account's own, which Office 365 lets it send as)
     * @param reporting the reporting MTA's name
     * @param original  the stored message (dot-stuffed); only its header block is read, at most {@code headerLimit}
     * @return the bounce, dot-stuffed with CRLF line endings, ready for the spool
     */
    static byte[] build(Envelope env, Map<String, String> failed, List<String> to, String from, String reporting,
                        InputStream original, int headerLimit, Instant now) throws IOException {
        try {
            Session session = Session.getInstance(new Properties());
            MimeMessage msg = new MimeMessage(session);
            msg.setFrom(new InternetAddress(from, "Mail Delivery System", "UTF-8"));
            for (String t : to) {
                msg.addRecipient(jakarta.mail.Message.RecipientType.TO, new InternetAddress(t));
            }
            msg.setSubject("Undelivered Mail Returned to Sender", "UTF-8");
            msg.setSentDate(Date.from(now));
            msg.setHeader("Auto-Submitted", "auto-replied");

            StringBuilder human = new StringBuilder();
            human.append("This is the mail proxy at ").append(reporting).append(".\r\n\r\n")
                    .append("A message accepted on ").append(new MailDateFormat().format(Date.from(env.received())))
                    .append(" from ").append(env.clientFrom().isEmpty() ? "<>" : "<" + env.clientFrom() + ">")
                    .append(" (queue id ").append(env.id()).append(", account ").append(env.account())
                    .append(") could not be delivered to:\r\n\r\n");
            failed.forEach((rcpt, reply) -> human.append("  <").append(rcpt).append(">: ").append(reply).append("\r\n"));
            MimeBodyPart text = new MimeBodyPart();
            text.setText(human.toString(), "UTF-8");

            StringBuilder status = new StringBuilder();
            status.append("Reporting-MTA: dns; ").append(reporting).append("\r\n");
            status.append("X-Mailproxy-Queue-ID: ").append(env.id()).append("\r\n");
            status.append("Arrival-Date: ").append(new MailDateFormat().format(Date.from(env.received()))).append("\r\n");
            failed.forEach((rcpt, reply) -> {
                status.append("\r\n");
                status.append("Final-Recipient: rfc822; ").append(rcpt).append("\r\n");
                status.append("Action: failed\r\n");
                status.append("Status: ").append(statusCode(reply)).append("\r\n");
                if (reply.matches("\\d{3} .*")) {
                    status.append("Diagnostic-Code: smtp; ").append(reply).append("\r\n");
                }
            });
            MimeBodyPart report = new MimeBodyPart();
            report.setDataHandler(new DataHandler(new ByteArrayDataSource(
                    status.toString().getBytes(StandardCharsets.UTF_8), "message/delivery-status")));
            report.setHeader("Content-Type", "message/delivery-status");

            MimeBodyPart headers = new MimeBodyPart();
            headers.setDataHandler(new DataHandler(new ByteArrayDataSource(headerBlock(original, headerLimit),
                    "text/rfc822-headers")));
            headers.setHeader("Content-Type", "text/rfc822-headers");

            MimeMultipart multipart = new MimeMultipart("report") {
                {
                    ContentType ct = new ContentType(contentType);
                    ct.setParameter("report-type", "delivery-status");
                    contentType = ct.toString();
                }
            };
            multipart.addBodyPart(text);
            multipart.addBodyPart(report);
            multipart.addBodyPart(headers);
            msg.setContent(multipart);
            msg.saveChanges();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            msg.writeTo(out);
            return stuff(out.toByteArray());
        } catch (MessagingException | UnsupportedEncodingException e) {
            throw new IOException("cannot build the bounce: " + e.getMessage(), e);
        }
    }

    /** A message that is itself a bounce (from the null sender, or one this queue made): it never gets one. */
    static boolean isBounce(Envelope env) {
        return env.mailFrom().isEmpty() || env.id().endsWith("-DSN");
    }

    /**
     * Whom the bounce for {@code env} goes to: the administrator if set, then the sender when asked for and its
     * address is {@link #routable}; none means no bounce.
     */
    static List<String> recipients(Envelope env, Optional<String> admin, boolean toSender) {
        List<String> to = new ArrayList<>();
        admin.ifPresent(to::add);
        if (toSender && routable(env.clientFrom()) && !to.contains(env.clientFrom())) {
            to.add(env.clientFrom());
        }
        return to;
    }

    /** An address a bounce can reach: a domain with a dot, not a local-only name. */
    static boolean routable(String address) {
        int at = address.lastIndexOf('@');
        if (at <= 0 || at == address.length() - 1) {
            return false;
        }
        String domain = address.substring(at + 1).toLowerCase(java.util.Locale.ROOT);
        return domain.contains(".") && !domain.endsWith(".local") && !domain.endsWith(".localdomain")
                && !domain.endsWith(".lan") && !domain.endsWith(".internal") && !domain.endsWith(".invalid")
                && !domain.endsWith(".home.arpa") && !domain.endsWith(".test");
    }

    /** The enhanced status code of a reply ({@code 5.1.1}), else 5.0.0 (4.4.7 for an expired message). */
    static String statusCode(String reply) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^\\d{3} ([245]\\.\\d{1,3}\\.\\d{1,3})\\b")
                .matcher(reply);
        if (m.find()) {
            String code = m.group(1);
            return code.startsWith("2") ? "5.0.0" : code;
        }
        return reply.startsWith("4.4.7") ? "4.4.7" : "5.0.0";
    }

    /** The original header block, un-stuffed, with CRLF endings; cut at the last whole line within the limit. */
    static byte[] headerBlock(InputStream stuffed, int limit) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = stuffed.read()) >= 0) {
            line.write(b);
            if (b == '\n') {
                byte[] l = line.toByteArray();
                line.reset();
                if (l.length <= 2) {
                    break; // the empty line ends the header block
                }
                int skip = l[0] == '.' ? 1 : 0;
                if (out.size() + l.length - skip > limit) {
                    break;
                }
                out.write(l, skip, l.length - skip);
            } else if (line.size() > limit) {
                break;
            }
        }
        return out.toByteArray();
    }

    /** Normalises line endings to CRLF and doubles a leading dot (RFC 5321 4.5.2); ends with CRLF. */
    static byte[] stuff(byte[] message) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(message.length + 64);
        boolean lineStart = true;
        for (int i = 0; i < message.length; i++) {
            byte b = message[i];
            if (b == '\r' && i + 1 < message.length && message[i + 1] == '\n') {
                continue; // written with the LF
            }
            if (b == '\n' || b == '\r') {
                out.write('\r');
                out.write('\n');
                lineStart = true;
                continue;
            }
            if (lineStart && b == '.') {
                out.write('.');
            }
            out.write(b);
            lineStart = false;
        }
        if (!lineStart) {
            out.write('\r');
            out.write('\n');
        }
        return out.toByteArray();
    }
}
