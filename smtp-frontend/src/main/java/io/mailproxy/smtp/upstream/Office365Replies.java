package io.mailproxy.smtp.upstream;

import io.mailproxy.smtp.codec.SmtpReply;
import java.util.Locale;
import java.util.Optional;

/** What an administrator must know (and change) when Office 365 answers with one of its known replies. */
final class Office365Replies {

    private Office365Replies() { }

    static Optional<String> explain(SmtpReply reply, String account) {
        String text = String.join(" ", reply.lines()).toLowerCase(Locale.ROOT);
        String enhanced = reply.enhancedCode().orElse("");
        if (reply.code() == 432 || enhanced.equals("4.3.2") && text.contains("concurrent")) {
            return Optional.of("Office 365 allows 3 concurrent SMTP connections per mailbox: keep pool.smtp.max of account "
                    + account + " at 3 or less and make sure no other program sends as this mailbox at the same time"
                    + " (temporary; the client may retry)");
        }
        if (text.contains("submissionquotaexceeded") || enhanced.equals("5.2.0") && reply.code() == 554) {
            return Optional.of("account " + account + " reached Office 365's limit of 10,000 recipients a day; it lifts"
                    + " 24 hours after the limit was hit: spread the mail over several mailboxes");
        }
        if (text.contains("sendasdenied") && !text.contains("throttled")) {
            // 554 5.2.252 SendAsDenied at the end of DATA (gophish #2900); 550 5.2.252 "Sender throttled" is the throttle
            return Optional.of("the user who logged in for account " + account + " (its principal, the delegate, for a"
                    + " shared mailbox) has no SendAs right on the sender: Add-RecipientPermission SENDER -Trustee"
                    + " USER -AccessRights SendAs");
        }
        if (enhanced.matches("5\\.2\\.25[1-5]")) {
            return Optional.of("Office 365 is throttling mailbox " + account + " after repeated errors: stop sending from"
                    + " this account for a while and fix the errors logged before this one");
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
