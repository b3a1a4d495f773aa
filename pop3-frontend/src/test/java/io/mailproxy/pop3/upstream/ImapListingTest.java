package io.mailproxy.pop3.upstream;

import io.mailproxy.core.imap.ImapMailboxData;
import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.imap.ImapCompletion;
import io.mailproxy.core.imap.ImapResponse;
import io.mailproxy.core.imap.ImapStatus;
import io.mailproxy.pop3.codec.Pop3Command;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * An IMAP folder's listing at login, from the SELECT, SEARCH and FETCH replies as a server sends them, and the two
 * mailbox replies POP3-over-IMAP reads ({@link MailboxReplies}).
 */
class ImapListingTest {

    private static List<ImapResponse> responses(String lines) {
        return lines.isEmpty() ? List.of() : Arrays.stream(lines.split("; "))
                .map(l -> new ImapResponse(null, l.getBytes(StandardCharsets.UTF_8))).toList();
    }

    private static ImapCompletion completed(String untagged) {
        return new ImapCompletion("a1", ImapStatus.OK, "done", responses(untagged));
    }

    private static String lines(Pop3Command.Verb verb, Pop3Listing listing) {
        StringBuilder b = new StringBuilder();
        listing.scan(verb, b::append);
        return b.toString().replace("\r\n", "|");
    }

    @ParameterizedTest(name = "{0} / {1}")
    @CsvSource(delimiter = '>', quoteCharacter = '\'', textBlock = """
            # SEARCH replies (; between)  > FETCH replies (; between)                                                 > UIDL                    > LIST
            * SEARCH 30 31                > * 1 FETCH (UID 30 RFC822.SIZE 2000); * 2 FETCH (UID 31 RFC822.SIZE 3000)  > 1 14.30|2 14.31|        > 1 2000|2 3000|
            * SEARCH 31 30 31             > * 2 FETCH (RFC822.SIZE 3000 UID 31); * 1 FETCH (UID 30 RFC822.SIZE 2000)  > 1 14.30|2 14.31|        > 1 2000|2 3000|
            * SEARCH 7 0 x 9              > * 1 FETCH (UID 7 RFC822.SIZE 10); * 2 FETCH (UID 9 RFC822.SIZE 20)        > 1 14.7|2 14.9|          > 1 10|2 20|
            * SEARCH 7; * SEARCH 9        > * 1 FETCH (UID 7 RFC822.SIZE 10); * 2 FETCH (UID 9 RFC822.SIZE 20)        > 1 14.7|2 14.9|          > 1 10|2 20|
            * SEARCH 5 8 (MODSEQ 917162500) > * 1 FETCH (UID 5 RFC822.SIZE 1); * 2 FETCH (UID 8 RFC822.SIZE 2)        > 1 14.5|2 14.8|          > 1 1|2 2|
            * SEARCH 30 31 32             > * 1 FETCH (UID 30 RFC822.SIZE 2000); * 3 FETCH (UID 32 RFC822.SIZE 5)     > 1 14.30|2 14.32|        > 1 2000|2 5|
            * SEARCH 31                   > * 1 FETCH (UID 30 RFC822.SIZE 2000); * 2 FETCH (UID 31 RFC822.SIZE 3000)  > 1 14.31|                > 1 3000|
            * SEARCH 30 31                > * 1 FETCH (UID 30); * 2 FETCH (UID 31 RFC822.SIZE x); * 2 EXPUNGE         > ''                      > ''
            * SEARCH 4294967295           > * 1 FETCH (UID 4294967295 RFC822.SIZE 0)                                  > 1 14.4294967295|        > 1 0|
            """)
    void numbersTheMessagesFoundThatHaveASize(String search, String fetch, String uidl, String list) {
        ImapListing.Builder builder = new ImapListing.Builder(14, ImapMailboxData.searchResult(completed(search)));
        assertThat(builder.isEmpty()).isFalse();
        responses(fetch).forEach(builder::fetched);
        ImapListing listing = builder.build();
        assertThat(lines(Pop3Command.Verb.UIDL, listing.pop3())).isEqualTo(uidl);
        assertThat(lines(Pop3Command.Verb.LIST, listing.pop3())).isEqualTo(list);
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '>', quoteCharacter = '\'', textBlock = """
            # SEARCH replies (; between)
            ''
            * SEARCH
            * SEARCH 0
            * 3 EXISTS
            """)
    void aSearchThatFoundNothingNeedsNoFetch(String search) {
        ImapListing.Builder builder = new ImapListing.Builder(14, ImapMailboxData.searchResult(completed(search)));
        assertThat(builder.isEmpty()).isTrue();
        assertThat(builder.build().pop3().size()).isZero();
    }

    @Test
    void onlyUnseenSearchesTheUnseenMessages() {
        assertThat(ImapListing.search(true)).isEqualTo("UID SEARCH UNSEEN");
        assertThat(ImapListing.search(false)).isEqualTo("UID SEARCH ALL");
        assertThat(ImapListing.SIZES).isEqualTo("UID FETCH 1:* (UID RFC822.SIZE)");
    }

    @Test
    void theMarkedMessagesAreNamedByUid() {
        ImapListing.Builder builder = new ImapListing.Builder(3, new long[] {12, 10, 11});
        responses("* 1 FETCH (UID 10 RFC822.SIZE 1); * 2 FETCH (UID 11 RFC822.SIZE 2); * 3 FETCH (UID 12 RFC822.SIZE 3)")
                .forEach(builder::fetched);
        ImapListing listing = builder.build();
        listing.pop3().answer(new Pop3Command(Pop3Command.Verb.DELE, 3, -1));
        listing.pop3().answer(new Pop3Command(Pop3Command.Verb.DELE, 1, -1));
        assertThat(listing.markedUids()).containsExactly(10L, 12L);
        assertThat(listing.uid(1)).isEqualTo(11);
        assertThat(listing.uidValidity()).isEqualTo(3);
        assertThat(ImapListing.empty(9).pop3().greeting()).isEqualTo("maildrop has 0 messages (0 octets)");
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '>', quoteCharacter = '\'', textBlock = """
            # SELECT's untagged replies (; between)                                    > UIDVALIDITY
            * 2 EXISTS; * OK [UIDVALIDITY 14] UIDVALIDITY value; * OK [UIDNEXT 32] x   > 14
            * OK [uidvalidity 3857529045] UIDs valid                                   > 3857529045
            * OK [UIDVALIDITY 7] a; * OK [UIDVALIDITY 8] b                             > 7
            * 2 EXISTS; * OK [UIDNEXT 32] x                                            >
            * OK [UIDVALIDITY x] y                                                     >
            ''                                                                         >
            """)
    void readsUidValidityFromTheSelect(String untagged, Long expected) {
        assertThat(ImapMailboxData.uidValidity(completed(untagged)))
                .isEqualTo(expected == null ? OptionalLong.empty() : OptionalLong.of(expected));
    }
}
