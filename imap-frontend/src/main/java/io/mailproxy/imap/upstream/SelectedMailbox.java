package io.mailproxy.imap.upstream;

import io.mailproxy.core.imap.ImapMailboxData;
import io.mailproxy.core.imap.ImapStatus;
import io.mailproxy.core.imap.ImapValue;
import io.mailproxy.imap.session.ImapState;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The relayed session's RFC 3501 state and selected mailbox, as the client sees them: the one place where
 * AUTHENTICATED, SELECTED and LOGOUT change, driven by what the upstream answered. A hand-over reads the
 * {@link Selection} to select the same mailbox on a fresh connection and compare its UIDVALIDITY.
 *
 * <p>Event loop (client) only. The mailbox's message view (a bounded sequence-to-UID map fed by EXISTS, EXPUNGE and
 * FETCH UID, for reconciling after an upstream that ended the session) belongs here too, beside the selection.
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

    private ImapState state = ImapState.AUTHENTICATED;
    private Selection selection;
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
    }

    /** A whole untagged response's text (without CRLF) went by. */
    void untagged(ImapStatus status, String text) {
        OptionalLong validity = ImapMailboxData.uidValidity(text);
        if (status == ImapStatus.OK && validity.isPresent()) {
            pendingUidValidity = validity.getAsLong();
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
            }
            case "CLOSE", "UNSELECT" -> {
                if (status == ImapStatus.OK) {
                    state = ImapState.AUTHENTICATED;
                    selection = null;
                }
            }
            default -> { }
        }
    }

    /** The session ends (LOGOUT, BYE, a drop). */
    void loggedOut() {
        state = ImapState.LOGOUT;
    }
}
