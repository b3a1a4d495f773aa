package io.mailproxy.pop3.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.config.ClientConfig.OnDelete;
import io.mailproxy.core.imap.ImapResponse;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** What QUIT sends for the DELE'd messages, by policy and capabilities; each row is one case. */
class OnDeletePlanTest {

    private static List<Long> uids(String list) {
        return list.isEmpty() ? List.of() : Arrays.stream(list.split(" ")).map(Long::valueOf).toList();
    }

    @ParameterizedTest(name = "{0} MOVE={1} marked [{2}]")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', textBlock = """
            # on-delete  | MOVE  | marked UIDs  | commands, in order (; between)
            expunge      | true  | ''           | ''
            move:\\Trash | true  | ''           | ''
            keep         | true  | 3 4 9        | ''
            seen         | true  | 3 4 9        | UID STORE 3:4,9 +FLAGS.SILENT (\\Seen)
            expunge      | true  | 3 4 9        | UID STORE 3:4,9 +FLAGS.SILENT (\\Deleted); UID EXPUNGE 3:4,9
            expunge      | false | 7            | UID STORE 7 +FLAGS.SILENT (\\Deleted); UID EXPUNGE 7
            move:\\Trash | true  | 3 4 9        | UID MOVE 3:4,9 "Trash"
            move:\\Trash | false | 3 4 9        | UID COPY 3:4,9 "Trash"; UID STORE 3:4,9 +FLAGS.SILENT (\\Deleted); UID EXPUNGE 3:4,9
            move:Old     | true  | 1 2 3 5      | UID MOVE 1:3,5 "Trash"
            """)
    void commandsForTheMarkedMessages(String onDelete, boolean hasMove, String marked, String expected) {
        OnDeletePlan plan = new OnDeletePlan(OnDelete.parse(onDelete), hasMove, "\"Trash\"");
        assertThat(String.join("; ", plan.commands(uids(marked)))).isEqualTo(expected);
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '|', textBlock = """
            # on-delete  | logged as    | the client's QUIT reply says
            expunge      | expunge      | deleted
            keep         | keep         | kept
            seen         | seen         | marked read
            move:\\Trash | move:\\Trash | moved
            move:Old     | move:Old     | moved
            """)
    void describesThePolicyAndWhatHappened(String onDelete, String describe, String outcome) {
        OnDeletePlan plan = new OnDeletePlan(OnDelete.parse(onDelete), true, "\"x\"");
        assertThat(plan.describe()).isEqualTo(describe);
        assertThat(plan.outcome()).isEqualTo(outcome);
    }

    @ParameterizedTest(name = "{0} MOVE={1} UIDPLUS={2}")
    @CsvSource(delimiter = '|', textBlock = """
            # on-delete  | MOVE  | UIDPLUS | refused for want of
            expunge      | true  | true    |
            expunge      | true  | false   | UIDPLUS
            move:\\Trash | true  | false   |
            move:\\Trash | false | true    |
            move:\\Trash | false | false   | UIDPLUS
            seen         | false | false   |
            keep         | false | false   |
            """)
    void refusesWhatWouldNeedAPlainExpunge(String onDelete, boolean hasMove, boolean hasUidplus, String missing) {
        assertThat(OnDeletePlan.missingCapability(OnDelete.parse(onDelete), hasMove, hasUidplus))
                .isEqualTo(Optional.ofNullable(missing));
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', textBlock = """
            # move:      | LIST responses (; between)                                                   | folder, as sent | on the wire
            \\Trash      | * LIST (\\HasNoChildren) "/" Archiv; * LIST (\\Trash) "/" "Gel&APY-schte Elemente" | Gel&APY-schte Elemente | "Gel&APY-schte Elemente"
            \\trash      | * LIST (\\HasNoChildren \\TRASH) "/" Deleted                                  | Deleted         | "Deleted"
            \\Archive    | * LIST (\\Archive) "." {5}\\r\\nA"r\\c                                          | A"r\\c          | "A\\"r\\\\c"
            \\Trash      | * LIST (\\Sent) "/" Sent; * LIST (\\HasNoChildren) "/" Trash                  |                 |
            \\Junk       | * LIST (\\Junk) "/" NIL                                                       |                 |
            """)
    void findsTheFolderWithTheSpecialUse(String use, String listed, String folder, String wire) {
        List<ImapResponse> responses = Arrays.stream(listed.split("; "))
                .map(r -> new ImapResponse(null, r.replace("\\r\\n", "\r\n").getBytes(StandardCharsets.UTF_8)))
                .toList();
        Optional<String> found = OnDeletePlan.specialUse(use, responses);
        assertThat(found).isEqualTo(Optional.ofNullable(folder));
        assertThat(found.map(OnDeletePlan::quoted)).isEqualTo(Optional.ofNullable(wire));
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource({"\\Trash, true", "\\ARCHIVE, true", "\\junk, true", "\\All, true", "\\Inbox, false", "Trash, false"})
    void knowsTheRfc6154Names(String use, boolean special) {
        assertThat(OnDeletePlan.isSpecialUse(use)).isEqualTo(special);
    }

    @Test
    void aMoveToANamedFolderIsEncodedAndQuoted() {
        assertThat(OnDeletePlan.folder("Gelöschte \"Elemente\"")).isEqualTo("\"Gel&APY-schte \\\"Elemente\\\"\"");
    }

    @ParameterizedTest(name = "[{0}]")
    @CsvSource(delimiter = '|', quoteCharacter = '\'', textBlock = """
            # UIDs         | sets
            ''             | ''
            5              | 5
            1 2 3          | 1:3
            1 3 5 6 7 10   | 1,3,5:7,10
            """)
    void uidSetsJoinRuns(String ascending, String sets) {
        assertThat(String.join(" ", OnDeletePlan.uidSets(uids(ascending)))).isEqualTo(sets);
    }

    @Test
    void longUidSetsAreSplitAtTheLimitWithoutLosingOne() {
        List<Long> odd = LongStream.range(0, 2000).map(i -> 1_000_001 + 2 * i).boxed().toList();
        List<String> sets = OnDeletePlan.uidSets(odd);
        assertThat(sets).hasSizeGreaterThan(1).allMatch(s -> s.length() <= OnDeletePlan.MAX_SET_LENGTH);
        assertThat(String.join(",", sets).split(",")).containsExactly(odd.stream().map(String::valueOf).toArray(String[]::new));

        OnDeletePlan plan = new OnDeletePlan(OnDelete.EXPUNGE, true, null);
        List<String> commands = plan.commands(odd);
        assertThat(commands).hasSize(2 * sets.size());
        assertThat(commands.get(0)).isEqualTo("UID STORE " + sets.get(0) + " +FLAGS.SILENT (\\Deleted)");
        assertThat(commands.get(1)).isEqualTo("UID EXPUNGE " + sets.get(0));
    }
}
