package io.mailproxy.imap.upstream;

import java.util.Arrays;

/**
 * The client's view of its selected mailbox: message sequence number to UID, as the client was told. After an
 * upstream that ended the session, the old connection can no longer be asked, so this is what a recovery compares
 * the fresh connection's UIDs with. Filled by the proxy's own {@code UID FETCH 1:* (UID)} after SELECT and by every
 * FETCH carrying a UID the relay sees; EXISTS appends messages whose UID is not yet known, EXPUNGE removes one.
 *
 * <p>Bounded: at most {@code max} messages (a larger mailbox has no view, and its session cannot recover). UIDs are
 * 32-bit unsigned (RFC 3501 2.3.1.1) and held in an {@code int[]} that grows as needed; 0 marks one not yet known.
 * Anything inconsistent (a sequence number beyond the view, a UID that contradicts the one known) drops the view:
 * a wrong view would make the client's next {@code STORE n} touch another message, no view only costs a BYE.
 * Event loop (client) only.
 */
final class MessageView {

    private static final int[] NONE = new int[0];

    private final int max;
    private int[] uids = NONE;
    private int size;
    private boolean valid;

    MessageView(int max) {
        this.max = max;
    }

    /** No view (no mailbox selected, or one the view cannot follow). */
    void drop() {
        valid = false;
        uids = NONE;
        size = 0;
    }

    /** A SELECT or EXAMINE went upstream: the view starts empty, to be told its size by EXISTS. */
    void selecting() {
        drop();
        valid = max > 0;
    }

    boolean valid() {
        return valid;
    }

    int size() {
        return size;
    }

    /** Every message's UID is known: the view can stand in for the old connection. */
    boolean complete() {
        if (!valid) {
            return false;
        }
        for (int i = 0; i < size; i++) {
            if (uids[i] == 0) {
                return false;
            }
        }
        return true;
    }

    /** The UIDs in sequence order (call only when {@link #complete()}). */
    long[] uids() {
        long[] out = new long[size];
        for (int i = 0; i < size; i++) {
            out[i] = Integer.toUnsignedLong(uids[i]);
        }
        return out;
    }

    /** After a move: the client now sees exactly {@code fresh} (sequence order). */
    void replace(long[] fresh) {
        if (fresh.length > max) {
            drop();
            return;
        }
        valid = true;
        size = fresh.length;
        uids = new int[size];
        for (int i = 0; i < size; i++) {
            uids[i] = (int) fresh[i];
        }
    }

    /** {@code * n EXISTS}: messages beyond the view are appended, their UIDs unknown. */
    void exists(long n) {
        if (!valid) {
            return;
        }
        if (n < size || n > max) {
            drop(); // fewer without EXPUNGE is a server fault; more than the bound cannot be followed
            return;
        }
        if (n > uids.length) {
            uids = Arrays.copyOf(uids, (int) Math.min(max, Math.max(n, uids.length + (uids.length >> 1))));
        }
        size = (int) n;
    }

    /** {@code * n EXPUNGE}. */
    void expunge(long seq) {
        if (!valid) {
            return;
        }
        if (seq < 1 || seq > size) {
            drop();
            return;
        }
        int i = (int) seq - 1;
        System.arraycopy(uids, i + 1, uids, i, size - i - 1);
        size--;
        uids[size] = 0;
    }

    /** A FETCH response said message {@code seq} has {@code uid}. */
    void fetched(long seq, long uid) {
        if (!valid) {
            return;
        }
        if (seq < 1 || seq > size || uid < 1 || uid > 0xffffffffL) {
            drop();
            return;
        }
        int known = uids[(int) seq - 1];
        if (known != 0 && known != (int) uid) {
            drop();
            return;
        }
        uids[(int) seq - 1] = (int) uid;
    }

    // ---------------------------------------------------------------- reading the responses

    /**
     * Follows one untagged response's first segment ({@code text}, without CRLF): EXISTS, EXPUNGE, FETCH with a UID
     * before any literal. Returns true when it is exactly {@code * n FETCH (UID m)}, the answer to the proxy's own
     * UID FETCH.
     */
    boolean untagged(String text) {
        int sp = text.indexOf(' ', 2);
        if (!text.startsWith("* ") || sp < 3) {
            return false;
        }
        long seq = number(text, 2, sp);
        if (seq < 0) {
            return false;
        }
        String rest = text.substring(sp + 1);
        if (rest.equalsIgnoreCase("EXISTS")) {
            exists(seq);
        } else if (rest.equalsIgnoreCase("EXPUNGE")) {
            expunge(seq);
        } else if (rest.regionMatches(true, 0, "FETCH (", 0, 7)) {
            long uid = fetchUid(rest, 7);
            if (uid > 0) {
                fetched(seq, uid);
                return rest.regionMatches(true, 7, "UID ", 0, 4) && rest.indexOf(')') == rest.length() - 1
                        && rest.indexOf(' ', 11) < 0;
            }
        }
        return false;
    }

    /** The UID in a FETCH's attribute list from {@code at}, at the top level and before any literal; -1 if none. */
    static long fetchUid(String s, int at) {
        int depth = 0;
        int i = at;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '"') {
                i++;
                while (i < s.length() && s.charAt(i) != '"') {
                    i += s.charAt(i) == '\\' ? 2 : 1;
                }
                i++;
            } else if (c == '(' || c == '[') {
                depth++;
                i++;
            } else if (c == ')' || c == ']') {
                depth--;
                i++;
            } else if (c == '{' || depth < 0) {
                return -1;
            } else if (depth == 0 && (i == at || s.charAt(i - 1) == ' ') && s.regionMatches(true, i, "UID ", 0, 4)) {
                int end = i + 4;
                while (end < s.length() && Character.isDigit(s.charAt(end))) {
                    end++;
                }
                return number(s, i + 4, end);
            } else {
                i++;
            }
        }
        return -1;
    }

    private static long number(String s, int from, int to) {
        if (to <= from || to - from > 10) {
            return -1;
        }
        long n = 0;
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            n = n * 10 + (c - '0');
        }
        return n;
    }
}
