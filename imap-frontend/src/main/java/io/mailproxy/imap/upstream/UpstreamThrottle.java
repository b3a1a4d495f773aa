package io.mailproxy.imap.upstream;

import io.mailproxy.core.imap.ImapResponseLine;
import io.mailproxy.core.imap.ImapStatus;
import java.time.Duration;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Office 365's throttling reply to an IMAP command: {@code tag BAD Request is throttled. Suggested Backoff Time: N
 * milliseconds}, also seen with {@code NO} (the text is as tenants report it, the status word varies; Microsoft
 * documents neither: see testkit's {@code Office365.IMAP_THROTTLED}). Which commands may be sent again after the
 * wait, and which get {@code NO [UNAVAILABLE]} with the server's text instead.
 *
 * @param backoff the wait the server suggests; null when the text names none
 * @param text    the server's text after the status word
 */
record UpstreamThrottle(Duration backoff, String text) {

    /** Longest command whose bytes are kept to be sent again (short, literal-free commands only). */
    static final int MAX_KEPT_COMMAND = 8192;
    /**
     * Commands that do the same when run twice: reads, and UID STORE, whose UIDs name the same messages whatever ran
     * meanwhile. Not COPY, MOVE, APPEND (a second copy of the mail), EXPUNGE, or a sequence-number STORE.
     */
    private static final Set<String> SAFE_AGAIN = Set.of("SELECT", "EXAMINE", "FETCH", "SEARCH", "STATUS", "LIST",
            "LSUB", "NOOP", "UID FETCH", "UID SEARCH", "UID STORE");
    /**
     * Of those, the ones harmless even if the first attempt ran: after a {@code NO} (not {@code BAD}) it is not sure
     * that it did not (practitioners treat it as failed; nobody documents it).
     */
    private static final Set<String> READS = Set.of("SELECT", "EXAMINE", "FETCH", "SEARCH", "STATUS", "LIST", "LSUB",
            "NOOP", "UID FETCH", "UID SEARCH");
    private static final Pattern THROTTLED = Pattern.compile("(?i)Request is throttled|Backoff Time");
    private static final Pattern BACKOFF = Pattern.compile("(?i)Backoff Time:\\s*(\\d{1,9})\\s*milli");

    /** The throttling in a tagged NO or BAD, or null when {@code line} is something else. */
    static UpstreamThrottle of(ImapResponseLine line) {
        if (!line.isFirst() || (line.status() != ImapStatus.NO && line.status() != ImapStatus.BAD)) {
            return null;
        }
        String text = line.text();
        if (!THROTTLED.matcher(text).find()) {
            return null;
        }
        // "tag SP status SP text"
        int sp = text.indexOf(' ');
        int sp2 = sp < 0 ? -1 : text.indexOf(' ', sp + 1);
        String said = sp2 < 0 ? text : text.substring(sp2 + 1);
        Matcher m = BACKOFF.matcher(said);
        return new UpstreamThrottle(m.find() ? Duration.ofMillis(Long.parseLong(m.group(1))) : null, said);
    }

    /** The client's answer to command {@code tag} when it is not sent again: the server's text, CRLF-terminated. */
    String reply(String tag) {
        return tag + " NO [UNAVAILABLE] " + text + "\r\n";
    }

    /** Whether the command named {@code name} may be sent again after a throttling reply with {@code status}. */
    static boolean safeAgain(String name, ImapStatus status) {
        return status == ImapStatus.BAD ? SAFE_AGAIN.contains(name) : READS.contains(name);
    }

    /** Whether a command's bytes are worth keeping in case it is throttled. */
    static boolean mayKeep(String name, long size) {
        return size <= MAX_KEPT_COMMAND && SAFE_AGAIN.contains(name);
    }
}
