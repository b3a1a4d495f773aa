package io.mailproxy.core.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class JsonTest {

    enum Colour { DARK_RED }

    record Inner(String name, Optional<Instant> at, Optional<Duration> left) { }

    record Outer(int n, boolean flag, Colour colour, List<Inner> items, Map<String, Object> extra) { }

    @Test
    void writesRecordsInComponentOrderWithInstantsDurationsAndEmptyOptionals() {
        Map<String, Object> extra = new LinkedHashMap<>();
        extra.put("x", 1.5);
        extra.put("nothing", null);
        Outer outer = new Outer(3, true, Colour.DARK_RED, List.of(
                new Inner("a", Optional.of(Instant.parse("2026-11-25T21:00:00Z")), Optional.of(Duration.ofMinutes(59))),
                new Inner("b", Optional.empty(), Optional.empty())), extra);

        assertThat(Json.write(outer)).isEqualTo("{\"n\":3,\"flag\":true,\"colour\":\"dark-red\",\"items\":["
                + "{\"name\":\"a\",\"at\":\"2026-11-25T21:00:00Z\",\"left\":3540},"
                + "{\"name\":\"b\",\"at\":null,\"left\":null}],\"extra\":{\"x\":1.5,\"nothing\":null}}");
    }

    @Test
    void escapesQuotesBackslashesAndEveryControlCharacter() {
        String nasty = "a\"b\\c\nd\re\tf\bg\fh\u0000i\u001fj\u007fk\u2028l/é✓";
        assertThat(Json.write(nasty))
                .isEqualTo("\"a\\\"b\\\\c\\nd\\re\\tf\\bg\\fh\\u0000i\\u001fj\\u007fk\\u2028l/é✓\"");
        assertThat(Json.parse(Json.write(nasty))).isEqualTo(nasty);
    }

    @Test
    void nonFiniteNumbersBecomeNull() {
        assertThat(Json.write(Arrays.asList(Double.NaN, Double.POSITIVE_INFINITY, 2.0, 10L)))
                .isEqualTo("[null,null,2,10]");
    }

    @Test
    void parsesWhatItWritesBackIntoMapsListsAndNumbers() {
        Object parsed = Json.parse(" {\"a\" : [1, -2.5e3, true, false, null, \"\\u00e9\\/\"], \"b\": {}} ");
        assertThat(parsed).isEqualTo(Map.of("a", Arrays.asList(new BigDecimal("1"), new BigDecimal("-2.5e3"), true,
                false, null, "é/"), "b", Map.of()));
    }

    @Test
    void refusesBrokenTextWithTheOffsetOfTheCharacterAtFault() {
        // the reason after the offset is the parser's (Jackson's) own wording
        assertThatThrownBy(() -> Json.parse("{\"a\":1,}")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("bad JSON at offset 7: ").hasMessageContaining("field name");
        assertThatThrownBy(() -> Json.parse("[1 2]")).hasMessageStartingWith("bad JSON at offset 3: ")
                .hasMessageContaining("comma");
        assertThatThrownBy(() -> Json.parse("\"open")).hasMessageStartingWith("bad JSON at offset 5: ")
                .hasMessageContaining("end-of-input");
        assertThatThrownBy(() -> Json.parse("{} x")).hasMessageStartingWith("bad JSON at offset 3: ")
                .hasMessageContaining("'x'");
        assertThatThrownBy(() -> Json.parse("\"a\u0001\"")).hasMessageStartingWith("bad JSON at offset 2: ")
                .hasMessageContaining("CTRL-CHAR");
        assertThatThrownBy(() -> Json.parse("tru")).hasMessageStartingWith("bad JSON at offset 0: ")
                .hasMessageContaining("'tru'");
        assertThatThrownBy(() -> Json.parse("  ")).hasMessage("bad JSON at offset 2: unexpected end");
    }

    @Test
    void refusesNestingDeeperThanTheLimit() {
        String deep = "[".repeat(Json.MAX_DEPTH + 2) + "]".repeat(Json.MAX_DEPTH + 2);
        assertThatThrownBy(() -> Json.parse(deep)).hasMessageContaining("nesting deeper than " + Json.MAX_DEPTH);
        String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        assertThat(Json.parse(ok)).isInstanceOf(List.class);
    }
}
