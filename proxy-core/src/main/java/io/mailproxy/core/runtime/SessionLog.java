package io.mailproxy.core.runtime;

import io.netty.channel.Channel;
import java.time.Duration;
import java.util.Locale;

/**
 * The per-session log lines. The runtime logs {@code session start} when it admits a connection and
 * {@code session end} when the channel closes, once per session, with the bytes each way and the duration:
 * <pre>
 * session end: protocol=imap client=scanner account=reports@contoso.com from=127.0.0.1 in=123 out=4567 duration=12.3s outcome=logout
 * </pre>
 * Frontends only tell it who logged in ({@link #identify}) and why the session ended ({@link #outcome}); both are
 * no-ops on a channel the runtime did not accept (a frontend's unit test).
 */
public final class SessionLog {

    /** The outcome when the frontend named none: the client closed the connection, or it broke. */
    public static final String CLOSED = "closed";

    private SessionLog() { }

    /**
     * Records who the session is, after a successful local login (or at once for a listener's fixed client).
     *
     * @param client  the local login name the legacy app sent
     * @param account the account (mailbox) the session relays to
     */
    public static void identify(Channel channel, String client, String account) {
        Session session = channel.attr(Session.KEY).get();
        if (session != null) {
            session.client = client;
            session.account = account;
        }
    }

    /**
     * Records how the session ends; the last call before the channel closes wins. Use short words:
     * {@code logout} / {@code quit} (the client said goodbye), {@code idle-timeout}, {@code auth-failed},
     * {@code line-too-long}, {@code upstream-unavailable}, {@code upstream-lost}, {@code token-expired},
     * {@code limit}, {@code shutdown}, {@code refused}.
     */
    public static void outcome(Channel channel, String outcome) {
        Session session = channel.attr(Session.KEY).get();
        if (session != null) {
            session.outcome = outcome;
        }
    }

    /**
     * Text a client chose (a login name, a command argument) made safe for a log line: control characters (C0, DEL,
     * C1) become {@code ?}, so no client can forge or split log lines, and it is cut at 256 characters.
     */
    public static String printable(CharSequence text) {
        if (text == null) {
            return "null";
        }
        int n = Math.min(text.length(), 256);
        StringBuilder out = new StringBuilder(n + 3);
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            out.append(c < 0x20 || (c >= 0x7f && c <= 0x9f) ? '?' : c);
        }
        return text.length() > n ? out.append("...").toString() : out.toString();
    }

    /** "192.0.2.10:5143", "[::1]:5143", or "-" when unknown. */
    static String address(java.net.InetSocketAddress a) {
        if (a == null) {
            return "-";
        }
        String host = a.getAddress() == null ? a.getHostString() : a.getAddress().getHostAddress();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    static String startLine(Session session, String remote, String listener) {
        return "session start: protocol=" + session.listener.config.protocol().configName() + " from=" + remote
                + " listener=" + listener;
    }

    static String endLine(String protocol, String client, String account, String remote, long in, long out,
                          Duration duration, String outcome) {
        return "session end: protocol=" + protocol + " client=" + word(client) + " account=" + word(account)
                + " from=" + word(remote) + " in=" + in + " out=" + out + " duration=" + seconds(duration)
                + " outcome=" + word(outcome == null ? CLOSED : outcome);
    }

    /** A value that cannot break the key=value format: no spaces, "-" when unknown. */
    private static String word(String value) {
        if (value == null || value.isEmpty()) {
            return "-";
        }
        StringBuilder out = new StringBuilder(value.length());
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            out.append(c <= ' ' || c == 0x7f ? '_' : c);
        }
        return out.toString();
    }

    private static String seconds(Duration d) {
        return String.format(Locale.ROOT, "%.1fs", d.toMillis() / 1000.0);
    }
}
