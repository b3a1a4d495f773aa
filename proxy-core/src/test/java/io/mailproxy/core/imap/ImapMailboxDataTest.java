package io.mailproxy.core.imap;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ImapMailboxDataTest {

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', nullValues = "none", textBlock = """
            * OK [UIDVALIDITY 14] UIDs valid            | 14
            * ok [uidvalidity 3857529045] UIDs valid    | 3857529045
            * OK [UIDVALIDITY 7]                        | 7
            * OK [UIDVALIDITY 4294967295] largest       | 4294967295
            * OK [UIDVALIDITY 99999999999] too long     | none
            * OK [UIDVALIDITY ] no number               | none
            * OK [UIDVALIDITY 14 no bracket             | none
            * OK [UIDVALIDITY 14x] not a number         | none
            * OK [UIDNEXT 15] Predicted next UID        | none
            * NO [UIDVALIDITY 14] not an OK             | none
            a1 OK [UIDVALIDITY 14] tagged               | none
            * 3 EXISTS                                  | none
            """)
    void uidValidity(String response, Long expected) {
        assertThat(ImapMailboxData.uidValidity(response))
                .isEqualTo(expected == null ? OptionalLong.empty() : OptionalLong.of(expected));
    }

    @ParameterizedTest(name = "{0} -> [{1}]")
    @CsvSource(delimiter = '|', textBlock = """
            * SEARCH 10 11 12                 | 10 11 12
            * search 5                        | 5
            * SEARCH                          | ''
            * SEARCH  2   9                   | 2 9
            * SEARCH 2 5 (MODSEQ 917162500)   | 2 5
            * SEARCHRES 4                     | ''
            * ESEARCH (TAG "a") UID ALL 1:3   | ''
            * 3 EXISTS                        | ''
            * SEARCH 1 99999999999999999999   | 1
            """)
    void searchResult(String response, String expected) {
        long[] want = expected.isEmpty() ? new long[0]
                : Arrays.stream(expected.split(" ")).mapToLong(Long::parseLong).toArray();
        assertThat(ImapMailboxData.searchResult(response)).containsExactly(want);
    }

    @Test
    void readsACompletedCommandsUntaggedResponses() {
        ImapCompletion selected = new ImapCompletion("t1", ImapStatus.OK, "[READ-WRITE] done", List.of(
                response(null, "* 4 EXISTS"), response(ImapStatus.OK, "* OK [UIDVALIDITY 9] UIDs valid")));
        assertThat(ImapMailboxData.uidValidity(selected)).hasValue(9);
        ImapCompletion none = new ImapCompletion("t1", ImapStatus.OK, "done", List.of(response(null, "* 1 EXISTS")));
        assertThat(ImapMailboxData.uidValidity(none)).isEmpty();
        ImapCompletion searched = new ImapCompletion("t2", ImapStatus.OK, "done", List.of(
                response(null, "* SEARCH 3 1"), response(null, "* 2 EXPUNGE"), response(null, "* SEARCH 7")));
        assertThat(ImapMailboxData.searchResult(searched)).containsExactly(3, 1, 7);
    }

    private static ImapResponse response(ImapStatus status, String text) {
        return new ImapResponse(status, text.getBytes(StandardCharsets.US_ASCII));
    }
}
