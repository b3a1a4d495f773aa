package io.mailproxy.imap.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.imap.ImapStatus;
import io.mailproxy.core.imap.ImapValue;
import io.mailproxy.imap.session.ImapState;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SelectedMailboxTest {

    private static final ImapValue INBOX = new ImapValue.Atom("INBOX");
    private final SelectedMailbox mailbox = new SelectedMailbox();

    private void select(String command, boolean examined, ImapValue name, String uidValidityLine, ImapStatus status) {
        mailbox.selecting();
        if (uidValidityLine != null) {
            mailbox.untagged(ImapStatus.OK, uidValidityLine);
        }
        mailbox.completed(command, examined, name, status);
    }

    @Test
    void startsAuthenticatedWithNothingSelected() {
        assertThat(mailbox.state()).isEqualTo(ImapState.AUTHENTICATED);
        assertThat(mailbox.selection()).isEmpty();
    }

    /** command, examined by the policy, status, then the state and the selection's read-only flag (none: unselected). */
    @ParameterizedTest(name = "{0} examined={1} {2} -> {3} {4}")
    @CsvSource(nullValues = "none", textBlock = """
            SELECT,  false, OK,  SELECTED,      false
            SELECT,  true,  OK,  SELECTED,      true
            EXAMINE, false, OK,  SELECTED,      true
            SELECT,  false, NO,  AUTHENTICATED, none
            EXAMINE, false, BAD, AUTHENTICATED, none
            """)
    void selectAndExamine(String command, boolean examined, ImapStatus status, ImapState state, Boolean readOnly) {
        select(command, examined, INBOX, "* OK [UIDVALIDITY 7] UIDs valid", status);
        assertThat(mailbox.state()).isEqualTo(state);
        assertThat(mailbox.selection().map(SelectedMailbox.Selection::readOnly).orElse(null)).isEqualTo(readOnly);
    }

    @ParameterizedTest(name = "{0} {1} -> {2}")
    @CsvSource(textBlock = """
            CLOSE,    OK, AUTHENTICATED
            UNSELECT, OK, AUTHENTICATED
            CLOSE,    NO, SELECTED
            UNSELECT, BAD, SELECTED
            NOOP,     OK, SELECTED
            """)
    void closeAndUnselect(String command, ImapStatus status, ImapState state) {
        select("SELECT", false, INBOX, null, ImapStatus.OK);
        mailbox.completed(command, false, null, status);
        assertThat(mailbox.state()).isEqualTo(state);
        assertThat(mailbox.selection().isPresent()).isEqualTo(state == ImapState.SELECTED);
    }

    @Test
    void aSelectionKeepsItsOwnUidValidityNeverThePreviousMailboxs() {
        select("SELECT", false, INBOX, "* OK [UIDVALIDITY 7] UIDs valid", ImapStatus.OK);
        assertThat(mailbox.selection().orElseThrow().uidValidity()).isEqualTo(7L);
        select("SELECT", false, new ImapValue.Atom("Other"), null, ImapStatus.OK);
        assertThat(mailbox.selection().orElseThrow().uidValidity()).isNull();
    }

    @Test
    void onlyAnUntaggedOkCarriesUidValidity() {
        mailbox.selecting();
        mailbox.untagged(ImapStatus.NO, "* NO [UIDVALIDITY 3] odd");
        mailbox.untagged(null, "* 3 EXISTS");
        mailbox.completed("SELECT", false, INBOX, ImapStatus.OK);
        assertThat(mailbox.selection().orElseThrow().uidValidity()).isNull();
    }

    @Test
    void aSelectWithoutAMailboxNameSelectsNothingToMoveLater() {
        select("SELECT", false, null, null, ImapStatus.OK);
        assertThat(mailbox.state()).isEqualTo(ImapState.SELECTED);
        assertThat(mailbox.selection()).isEmpty();
    }

    @Test
    void logoutIsFinal() {
        select("SELECT", false, INBOX, null, ImapStatus.OK);
        mailbox.loggedOut();
        assertThat(mailbox.state()).isEqualTo(ImapState.LOGOUT);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            INBOX           | false | SELECT INBOX
            INBOX           | true  | EXAMINE INBOX
            "Sent Items"    | false | SELECT "Sent Items"
            "a\\\\b\\"c"    | false | SELECT "a\\\\b\\"c"
            """)
    void theReselectCommandNamesTheMailboxAsTheClientDid(String wire, boolean readOnly, String command) {
        ImapValue name = arg(wire);
        assertThat(new SelectedMailbox.Selection(name, readOnly, null).selectCommand()).isEqualTo(command);
    }

    @Test
    void anEightBitNameIsSentAsALiteralPlus() {
        ImapValue name = new ImapValue.Str("Entwürfe".getBytes(StandardCharsets.UTF_8));
        assertThat(new SelectedMailbox.Selection(name, false, null).selectCommand())
                .isEqualTo("SELECT {9+}\r\nEntwürfe");
    }

    private static ImapValue arg(String wire) {
        byte[] b = ("t SELECT " + wire).getBytes(StandardCharsets.UTF_8);
        List<ImapValue> values = ImapValue.parseArguments(b, 0, b.length);
        return values.get(2);
    }
}
