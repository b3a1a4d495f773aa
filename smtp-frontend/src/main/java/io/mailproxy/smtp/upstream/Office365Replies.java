package io.mailproxy.smtp.upstream;

import io.mailproxy.smtp.codec.SmtpReply;
import java.util.Locale;
import java.util.Optional;

/** What an administrator must know (and change) when Office 365 answers with one of its known replies. */
public final class Office365Replies {

    private Office365Replies() { }

    /**
     * {@code 554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException}: 10,000 recipients a day. Not the
     * older {@code 554 5.2.0 ...SendAsDeniedException...}, which refuses one message's sender.
     */
    public static boolean submissionQuotaExceeded(SmtpReply reply) {
        String text = String.join(" ", reply.lines()).toLowerCase(Locale.ROOT);
        return text.contains("submissionquotaexceeded") || reply.code() == 554
                && reply.enhancedCode().orElse("").equals("5.2.0") && !text.contains("sendasdenied");
    }

    /**
     * {@code 550 5.2.251}-{@code 255 Sender throttled due to continuous ... errors}: the mailbox is throttled. Not a
     * single {@code 554 5.2.252 SendAsDenied; ...}, which refuses one message and shares the enhanced code.
     */
    public static boolean continuousErrorThrottling(SmtpReply reply) {
        String enhanced = reply.enhancedCode().orElse("");
        return enhanced.matches("5\\.2\\.25[1-5]")
                && (reply.code() == 550 || String.join(" ", reply.lines()).toLowerCase(Locale.ROOT).contains("throttl"));
    }

    /**
     * {@code 554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException...}: the submitting mailbox
     * is full (Office 365 keeps a copy of each submission in its Sent Items; Microsoft's SMTP AUTH page: "If the
     * mailbox gets full, sending email messages will be blocked"). A recipient's full mailbox comes later as a bounce,
     * never as a reply to the submission.
     */
    public static boolean sendingMailboxFull(SmtpReply reply) {
        String text = String.join(" ", reply.lines()).toLowerCase(Locale.ROOT);
        return reply.enhancedCode().orElse("").equals("5.2.2")
                && (text.contains("mailbox full") || text.contains("quotaexceeded"));
    }

    static Optional<String> explain(SmtpReply reply, String account) {
        String text = String.join(" ", reply.lines()).toLowerCase(Locale.ROOT);
        String enhanced = reply.enhancedCode().orElse("");
        if (reply.code() == 432 || enhanced.equals("4.3.2") && text.contains("concurrent")) {
            return Optional.of("Office 365 allows 3 concurrent SMTP connections per mailbox: keep pool.smtp.max of account "
                    + account + " at 3 or less and make sure no other program sends as this mailbox at the same time"
                    + " (temporary; the client may retry)");
        }
        if (submissionQuotaExceeded(reply)) {
            return Optional.of("account " + account + " reached Office 365's limit of 10,000 recipients a day; it lifts"
                    + " 24 hours after the limit was hit: spread the mail over several mailboxes");
        }
        if (continuousErrorThrottling(reply)) {
            // Microsoft's "continuous error throttling for SMTP AUTH submissions": repeated errors of one kind, not
            // volume, throttle the mailbox for a time it does not publish (and support cannot lift)
            String cause = switch (enhanced) {
                case "5.2.251" -> "its mailbox being full";
                case "5.2.252" -> "send-as refusals (a From: or MAIL FROM the mailbox may not use)";
                case "5.2.253" -> "an invalid or missing licence";
                case "5.2.254" -> "messages with too many recipients";
                default -> "invalid recipients";
            };
            return Optional.of("Office 365 is throttling mailbox " + account + " after repeated errors caused by "
                    + cause + " (not by volume): every program sending as it is blocked for a time Microsoft does not"
                    + " publish; fix the client whose messages keep failing (the refusals logged before this one)");
        }
        if (sendingMailboxFull(reply)) {
            return Optional.of("the sending mailbox of account " + account + " is full: Office 365 keeps a copy of each"
                    + " submitted message in its Sent Items and refuses to submit more; empty Sent Items or raise the"
                    + " quota (queued messages are kept and retried)");
        }
        if (enhanced.equals("5.2.252") || text.contains("sendasdenied")) {
            // 554 5.2.252 SendAsDenied at the end of DATA (gophish #2900); 550 5.2.252 "Sender throttled" is the throttle
            return Optional.of("the user who logged in for account " + account + " (its principal, the delegate, for a"
                    + " shared mailbox) has no SendAs right on the message's sender (refused at the final dot): grant"
                    + " it Send As (Add-RecipientPermission SENDER -Trustee USER -AccessRights SendAs), or set"
                    + " smtp.sender = rewrite for this client");
        }
        if (enhanced.equals("5.7.139")) {
            return Optional.of("SMTP AUTH is disabled for " + account + ": enable it for the mailbox (Set-CASMailbox"
                    + " -SmtpClientAuthenticationDisabled $false), in the tenant (Set-TransportConfig"
                    + " -SmtpClientAuthenticationDisabled $false), or turn off security defaults, which block it");
        }
        if (enhanced.equals("5.7.60")) {
            return Optional.of("mailbox " + account + " has no SendAs right for the MAIL FROM address: grant it Send As"
                    + " on that address, or set smtp.sender = rewrite for this client");
        }
        if (enhanced.equals("5.7.30")) {
            return Optional.of("Office 365 refuses Basic authentication for client submission: set auth.type = oauth2"
                    + " for account " + account);
        }
        return Optional.empty();
    }
}
