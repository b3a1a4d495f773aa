package io.mailproxy.pop3.upstream;

import io.mailproxy.core.imap.ImapCompletion;
import io.mailproxy.core.imap.ImapValue;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The two things POP3-over-IMAP reads out of a server's mailbox replies: the {@code [UIDVALIDITY n]} response code
 * of a SELECT or EXAMINE (RFC 3501 section 7.1), at login and at every hand-over's re-SELECT, and the numbers of a
 * {@code * SEARCH} result (section 7.2.5), for the listing. One method each and nothing else, so that both can be
 * answered by core's one parser for these replies, which the IMAP relay's hand-over uses, without touching callers.
 */
final class MailboxReplies {
    private static final Pattern UIDVALIDITY = Pattern.compile("\\[UIDVALIDITY (\\d+)\\]", Pattern.CASE_INSENSITIVE);

    private MailboxReplies() { }

    /** The UIDVALIDITY among a completed SELECT's or EXAMINE's untagged responses, if it sent one. */
    static OptionalLong uidValidity(ImapCompletion selected) {
        return selected.untagged().stream()
                .map(r -> UIDVALIDITY.matcher(r.text()))
                .filter(Matcher::find)
                .mapToLong(m -> Long.parseLong(m.group(1)))
                .findFirst();
    }

    /**
     * The numbers of every {@code * SEARCH} response among a completed command's untagged responses, in the
     * server's order; what is not a number (RFC 7162's {@code (MODSEQ n)}) is not one of them.
     */
    static long[] searchResult(ImapCompletion searched) {
        return searched.all("SEARCH").stream()
                .flatMap(r -> r.values().stream().skip(1))
                .filter(v -> v instanceof ImapValue.Atom)
                .mapToLong(v -> ImapListing.parseLongOr(((ImapValue.Atom) v).value(), -1))
                .filter(n -> n >= 0)
                .toArray();
    }
}
