package io.mailproxy.imap.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.imap.upstream.CommandTracker.InFlight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CommandTrackerTest {

    private final List<ByteBuf> sent = new ArrayList<>();

    @AfterEach
    void release() {
        sent.forEach(ByteBuf::release);
    }

    private CommandTracker tracker(boolean upstreamLiteralPlus, boolean gateEveryLiteral) {
        CommandTracker t = new CommandTracker(sent::add, gateEveryLiteral);
        t.upstreamLiteralPlus(upstreamLiteralPlus);
        return t;
    }

    /** What went upstream since the last call, released. */
    private String upstreamGot() {
        StringBuilder sb = new StringBuilder();
        sent.forEach(b -> sb.append(b.toString(StandardCharsets.US_ASCII)));
        sent.forEach(ByteBuf::release);
        sent.clear();
        return sb.toString();
    }

    /** Command a, an APPEND, sent as far as its literal's announcement ({@code {n}} or {@code {n+}}). */
    private static InFlight appending(CommandTracker t, String announcement) {
        InFlight a = new InFlight("a", "APPEND");
        t.sent(a);
        t.writeLiteralAnnouncement(bytes(announcement), !announcement.contains("+}"), a);
        return a;
    }

    private static ByteBuf bytes(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
    }

    /**
     * The client's announcement, whether the upstream has LITERAL+, whether every literal is gated (a policy), then
     * what the upstream gets at once and whether the literal's bytes wait for its "+".
     */
    @ParameterizedTest(name = "{0} literal+={1} gate-all={2} -> {3} gated={4}")
    @CsvSource(delimiter = '|', textBlock = """
            a APPEND INBOX {5}\\r\\n    | true  | false | a APPEND INBOX {5+}\\r\\n | false
            a APPEND INBOX {5+}\\r\\n   | true  | false | a APPEND INBOX {5+}\\r\\n | false
            a APPEND INBOX {5}\\r\\n    | false | false | a APPEND INBOX {5}\\r\\n  | true
            a APPEND INBOX {5+}\\r\\n   | false | false | a APPEND INBOX {5}\\r\\n  | true
            a APPEND INBOX {5}\\r\\n    | true  | true  | a APPEND INBOX {5}\\r\\n  | true
            a APPEND INBOX {5+}\\r\\n   | true  | true  | a APPEND INBOX {5}\\r\\n  | true
            a SELECT {12345678}\\r\\n   | true  | false | a SELECT {12345678+}\\r\\n | false
            a SELECT {12345678+}\\r\\n  | false | false | a SELECT {12345678}\\r\\n | true
            """)
    void literalAnnouncementsAreConvertedForTheUpstream(String segment, boolean literalPlus, boolean gateAll,
                                                        String upstream, boolean gated) {
        CommandTracker t = tracker(literalPlus, gateAll);
        appending(t, segment.replace("\\r\\n", "\r\n"));
        assertThat(upstreamGot()).isEqualTo(upstream.replace("\\r\\n", "\r\n"));
        assertThat(t.gated()).isEqualTo(gated);
        assertThat(t.awaitsContinuation()).isEqualTo(gated);
        t.write(bytes("hello\r\n"));
        assertThat(upstreamGot()).isEqualTo(gated ? "" : "hello\r\n");
        if (gated) {
            assertThat(t.openGate()).isTrue();
            assertThat(upstreamGot()).isEqualTo("hello\r\n");
        }
    }

    @Test
    void eachGateHoldsWhatCameAfterItUntilItsContinuation() {
        CommandTracker t = tracker(false, false);
        InFlight a = appending(t, "a APPEND INBOX {2}\r\n");
        t.write(bytes("hi"));
        t.writeLiteralAnnouncement(bytes(" {3}\r\n"), true, a);
        t.write(bytes("you\r\n"));
        InFlight n = new InFlight("n", "NOOP");
        t.sent(n);
        t.write(bytes("n NOOP\r\n"));
        assertThat(upstreamGot()).isEqualTo("a APPEND INBOX {2}\r\n");
        assertThat(t.openGate()).isFalse();
        assertThat(upstreamGot()).isEqualTo("hi {3}\r\n");
        assertThat(t.gatedBy(a)).isTrue();
        assertThat(t.openGate()).isTrue();
        assertThat(upstreamGot()).isEqualTo("you\r\nn NOOP\r\n");
        assertThat(t.gated()).isFalse();
    }

    @Test
    void aGateBelongsToItsCommandNotItsTag() {
        CommandTracker t = tracker(false, true);
        InFlight first = new InFlight("a", "NOOP");
        InFlight second = new InFlight("a", "APPEND");
        t.sent(first);
        t.write(bytes("a NOOP\r\n"));
        t.sent(second);
        t.writeLiteralAnnouncement(bytes("a APPEND INBOX {1}\r\n"), true, second);
        assertThat(t.completed("a")).isSameAs(first);
        assertThat(t.gatedBy(first)).isFalse();
        assertThat(t.gatedBy(second)).isTrue();
    }

    @Test
    void droppingWhatIsGatedReleasesIt() {
        CommandTracker t = tracker(false, false);
        appending(t, "a APPEND Nope {5+}\r\n");
        ByteBuf literal = bytes("hello\r\n");
        t.write(literal);
        t.dropGated();
        assertThat(literal.refCnt()).isZero();
        assertThat(t.gated()).isFalse();
        assertThat(upstreamGot()).isEqualTo("a APPEND Nope {5}\r\n");
    }

    @Test
    void commandsInFlightCompleteByTagOldestFirst() {
        CommandTracker t = tracker(true, false);
        assertThat(t.idle()).isTrue();
        InFlight a1 = new InFlight("a", "FETCH");
        InFlight b = new InFlight("b", "NOOP");
        InFlight a2 = new InFlight("a", "STORE");
        t.sent(a1);
        t.sent(b);
        t.sent(a2);
        assertThat(t.inFlight()).isEqualTo(3);
        assertThat(t.oldest()).isSameAs(a1);
        assertThat(t.isInFlight("b")).isTrue();
        assertThat(t.completed("b")).isSameAs(b);
        assertThat(t.completed("x")).isNull();
        assertThat(t.completed("a")).isSameAs(a1);
        assertThat(t.completed("a")).isSameAs(a2);
        assertThat(t.idle()).isTrue();
        assertThat(t.oldest()).isNull();
    }
}
