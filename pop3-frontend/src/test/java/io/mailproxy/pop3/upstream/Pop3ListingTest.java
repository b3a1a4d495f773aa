package io.mailproxy.pop3.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.pop3.codec.Pop3Command;
import io.mailproxy.pop3.codec.Pop3CommandLine;
import io.mailproxy.pop3.codec.Pop3Response;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The maildrop as it stood at login: numbering, sizes, unique-ids and DELE marks, whatever the ids are. */
class Pop3ListingTest {

    /** Three messages of 100, 200 and 300 octets whose ids are a Graph-like maildrop's own strings. */
    private static Pop3Listing three() {
        String[] ids = {"AAMk-a", "AAMk-b", "AAMk-c"};
        return new Pop3Listing(new long[] {100, 200, 300}, i -> ids[i]);
    }

    private static Pop3Command command(String line) {
        return Pop3Command.parse(new Pop3CommandLine(line));
    }

    /** Runs the commands before the last, then answers the last with a whole listing's text when it is one. */
    private static String run(Pop3Listing listing, String commands) {
        List<String> lines = Arrays.stream(commands.split("; ")).toList();
        for (String line : lines.subList(0, lines.size() - 1)) {
            assertThat(listing.answer(command(line)).isOk()).as(line).isTrue();
        }
        Pop3Command last = command(lines.get(lines.size() - 1));
        Pop3Response single = listing.answer(last);
        if (single != null) {
            return single.line();
        }
        StringBuilder text = new StringBuilder(listing.scanStatus().line()).append("\r\n");
        listing.scan(last.verb(), text::append);
        return text.toString().replace("\r\n", "|");
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '>', textBlock = """
            # commands (; between)        > the last one's reply (a listing's lines end with |)
            STAT                          > +OK 3 600
            NOOP                          > +OK
            LIST                          > +OK 3 messages (600 octets)|1 100|2 200|3 300|
            UIDL                          > +OK 3 messages (600 octets)|1 AAMk-a|2 AAMk-b|3 AAMk-c|
            LIST 2                        > +OK 2 200
            UIDL 3                        > +OK 3 AAMk-c
            LIST 4                        > -ERR No such message: 4
            UIDL 4                        > -ERR No such message: 4
            DELE 2                        > +OK message 2 deleted
            DELE 2; STAT                  > +OK 2 400
            DELE 2; LIST                  > +OK 2 messages (400 octets)|1 100|3 300|
            DELE 2; UIDL                  > +OK 2 messages (400 octets)|1 AAMk-a|3 AAMk-c|
            DELE 2; LIST 2                > -ERR No such message: 2
            DELE 2; UIDL 2                > -ERR No such message: 2
            DELE 2; DELE 2                > -ERR No such message: 2
            DELE 1; DELE 3; LIST          > +OK 1 messages (200 octets)|2 200|
            DELE 1; DELE 2; DELE 3; LIST  > +OK 0 messages (0 octets)|
            DELE 4                        > -ERR No such message: 4
            DELE 1; DELE 3; RSET          > +OK maildrop has 3 messages (600 octets)
            DELE 1; RSET; LIST 1          > +OK 1 100
            """)
    void answersTheCommandsThatNeedNoUpstream(String commands, String reply) {
        assertThat(run(three(), commands)).isEqualTo(reply);
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '>', textBlock = """
            # commands (; between)  > marked indexes > greeting
            NOOP                    > ''             > maildrop has 3 messages (600 octets)
            DELE 3; DELE 1          > 0 2            > maildrop has 1 messages (200 octets)
            DELE 3; RSET; DELE 2    > 1              > maildrop has 2 messages (400 octets)
            """)
    void marksWhatQuitApplies(String commands, String marked, String greeting) {
        Pop3Listing listing = three();
        for (String line : commands.split("; ")) {
            listing.answer(command(line));
        }
        assertThat(Arrays.stream(listing.marked()).mapToObj(String::valueOf).toList())
                .isEqualTo(marked.isEmpty() ? List.of() : List.of(marked.split(" ")));
        assertThat(listing.greeting()).isEqualTo(greeting);
        assertThat(listing.size()).isEqualTo(3);
    }

    @Test
    void leavesRetrTopQuitAndWholeListingsToTheMaildrop() {
        Pop3Listing listing = three();
        for (String line : List.of("RETR 1", "TOP 1 0", "QUIT", "LIST", "UIDL")) {
            assertThat(listing.answer(command(line))).as(line).isNull();
        }
        assertThat(listing.index(1)).isZero();
        assertThat(listing.index(0)).isEqualTo(-1);
        assertThat(listing.index(4)).isEqualTo(-1);
    }

    @Test
    void anEmptyMaildropListsNothing() {
        Pop3Listing empty = new Pop3Listing(new long[0], i -> "x");
        assertThat(run(empty, "UIDL")).isEqualTo("+OK 0 messages (0 octets)|");
        assertThat(empty.greeting()).isEqualTo("maildrop has 0 messages (0 octets)");
    }

    @Test
    void aLongListingGoesOutInBoundedPieces() {
        int n = 5000;
        Pop3Listing listing = new Pop3Listing(IntStream.range(0, n).mapToLong(i -> 1_000_000 + i).toArray(),
                i -> "4000000000." + (1_000_000 + i));
        List<String> pieces = new ArrayList<>();
        listing.scan(Pop3Command.Verb.UIDL, piece -> pieces.add(piece.toString()));
        assertThat(pieces).hasSizeGreaterThan(1);
        assertThat(pieces).allMatch(p -> p.length() < Pop3Listing.CHUNK + 64 && p.endsWith("\r\n"));
        String[] lines = String.join("", pieces).split("\r\n");
        assertThat(lines).hasSize(n);
        assertThat(lines[0]).isEqualTo("1 4000000000.1000000");
        assertThat(lines[n - 1]).isEqualTo(n + " 4000000000." + (1_000_000 + n - 1));
    }
}
