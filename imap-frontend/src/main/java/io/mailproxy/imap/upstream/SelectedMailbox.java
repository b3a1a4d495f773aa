package io.mailproxy.imap.upstream;

import io.mailproxy.core.imap.ImapMailboxData;
import io.mailproxy.core.imap.ImapStatus;
import io.mailproxy.core.imap.ImapValue;
import io.mailproxy.imap.session.ImapState;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Predicate;

/**
 * The relayed session's RFC 3501 state and selected mailbox, as the client sees them: the one place where
 * AUTHENTICATED, SELECTED and LOGOUT change, driven by what the upstream answered. A hand-over reads the
 * {@link Selection} to select the same mailbox on a fresh connection and compare its UIDVALIDITY.
 *
 * <p>Beside the selection it keeps the client's {@link MessageView} (sequence number to UID, bounded), which a
 * recovery from an upstream that ended the session reconciles against. The view is filled by one
 * {@code UID FETCH 1:* (UID)} of the proxy's own right after a SELECT completes (the relay sends it when nothing is
 * in flight, holding the client's next command meanwhile), and kept up from the EXISTS, EXPUNGE and FETCH responses
 * relayed. Event loop (client) only.
 */
final class SelectedMailbox {

    /**
     * What a re-SELECT needs: the mailbox as the client named it, whether it was opened read-only, and the
     * UIDVALIDITY the client was told (null when the server sent none).
     */
    record Selection(ImapValue mailbox, boolean readOnly, Long uidValidity) {

        /** The SELECT or EXAMINE command (without tag and CRLF) that opens the same mailbox the same way. */
        String selectCommand() {
            return (readOnly ? "EXAMINE " : "SELECT ") + astring(mailbox);
        }

        /** The mailbox name as the client sent it, for a command of the proxy's own. */
        private static String astring(ImapValue name) {
            if (name instanceof ImapValue.Atom a) {
                return a.value();
            }
            byte[] b = ((ImapValue.Str) name).bytes();
            boolean printable = true;
            for (byte x : b) {
                printable &= x >= 0x20 && x < 0x7f;
            }
            if (printable) {
                String s = new String(b, StandardCharsets.US_ASCII);
                return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
            }
            return "{" + b.length + "+}\r\n" + new String(b, StandardCharsets.UTF_8);
        }
    }

    private final MessageView view;
    private ImapState state = ImapState.AUTHENTICATED;
    private Selection selection;
    /** A SELECT completed with messages whose UIDs the view does not know: the proxy's UID FETCH should go. */
    private boolean viewWanted;
    /** The tag of the proxy's own UID FETCH in flight; null when none is. */
    private String viewFetchTag;
    /** Tags of the proxy's own UID FETCH so far: mpxv1, mpxv2... */
    private int viewTags;

    /** With the default bound of {@code max-message-view}. */
    SelectedMailbox() {
        this(io.mailproxy.imap.ImapSettings.DEFAULT_MAX_MESSAGE_VIEW);
    }

    /** {@code maxView}: the most messages a view follows (0: none, so no session recovers with a mailbox). */
    SelectedMailbox(int maxView) {
        this.view = new MessageView(maxView);
    }
    /** The UIDVALIDITY seen since the last SELECT or EXAMINE was sent: its own, or none, never the previous one's. */
    private Long pendingUidValidity;

    ImapState state() {
        return state;
    }

    /** The selected mailbox, if one is (after SELECT or EXAMINE completed OK, until CLOSE, UNSELECT or a failure). */
    Optional<Selection> selection() {
        return Optional.ofNullable(selection);
    }

    /** A SELECT or EXAMINE went upstream. */
    void selecting() {
        pendingUidValidity = null;
        viewWanted = false;
        view.selecting();
    }

    /**
     * An untagged response's first segment ({@code text}, without CRLF; {@code whole}: it is the whole response)
     * went by. False when the client must not see it: the answer to the proxy's own UID FETCH.
     */
    boolean untagged(ImapStatus status, String text, boolean whole) {
        OptionalLong validity = whole ? ImapMailboxData.uidValidity(text) : OptionalLong.empty();
        if (status == ImapStatus.OK && validity.isPresent()) {
            pendingUidValidity = validity.getAsLong();
        }
        boolean justUid = view.untagged(text);
        return !(justUid && whole && viewFetchTag != null);
    }

    /** A whole untagged response's text (without CRLF) went by. */
    void untagged(ImapStatus status, String text) {
        untagged(status, text, true);
    }

    // ---------------------------------------------------------------- the message view

    /**
     * The proxy's own UID FETCH is due (a SELECT completed with messages) and starts: its tag, the first of mpxv1,
     * mpxv2... that no command in flight has ({@code inFlight}); {@link #viewFetchCommand} is what goes upstream.
     */
    String viewFetch(Predicate<String> inFlight) {
        String tag;
        do {
            tag = "mpxv" + ++viewTags;
        } while (inFlight.test(tag));
        viewWanted = false;
        viewFetchTag = tag;
        return tag;
    }

    /** The proxy's own UID FETCH under {@code tag}. */
    static String viewFetchCommand(String tag) {
        return tag + " UID FETCH 1:* (UID)\r\n";
    }

    boolean viewWanted() {
        return viewWanted;
    }

    /** True when {@code tag} is the proxy's own UID FETCH, which then completed ({@code ok}, or not). */
    boolean viewFetched(String tag, boolean ok) {
        if (viewFetchTag == null || !viewFetchTag.equals(tag)) {
            return false;
        }
        viewFetchTag = null;
        if (!ok) {
            view.drop();
        }
        return true;
    }

    /**
     * The client's view as UIDs in sequence order, when it can stand in for the old connection: empty without a
     * mailbox; null when a mailbox is selected and its view is incomplete or was given up.
     */
    long[] clientUids() {
        if (selection == null) {
            return new long[0];
        }
        return view.complete() ? view.uids() : null;
    }

    /** After a move to a fresh connection: the client now sees exactly {@code fresh}. */
    void moved(long[] fresh) {
        viewWanted = false;
        if (selection != null) {
            view.replace(fresh);
        }
    }

    /**
     * A command completed with {@code status}. {@code command} is the name the client sent ({@code SELECT}, also
     * when the policy sent it as EXAMINE: then {@code examined}); {@code mailbox} the name it selected, if any.
     */
    void completed(String command, boolean examined, ImapValue mailbox, ImapStatus status) {
        switch (command) {
            case "SELECT", "EXAMINE" -> {
                boolean ok = status == ImapStatus.OK;
                // RFC 3501 6.3.1: a failed SELECT leaves the session unselected
                state = ok ? ImapState.SELECTED : ImapState.AUTHENTICATED;
                selection = ok && mailbox != null
                        ? new Selection(mailbox, examined || command.equals("EXAMINE"), pendingUidValidity) : null;
                if (selection == null) {
                    view.drop();
                }
                viewWanted = selection != null && view.valid() && view.size() > 0;
            }
            case "CLOSE", "UNSELECT" -> {
                if (status == ImapStatus.OK) {
                    state = ImapState.AUTHENTICATED;
                    selection = null;
                    view.drop();
                }
            }
            default -> { }
        }
    }

    /** The session ends (LOGOUT, BYE, a drop). */
    void loggedOut() {
        state = ImapState.LOGOUT;
        view.drop();
    }
}
