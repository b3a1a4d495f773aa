package io.mailproxy.pop3.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class Pop3CommandTest {

    private static Pop3Command parse(String line) {
        return Pop3Command.parse(new Pop3CommandLine(line));
    }

    @Test
    void parsesAndCanonicalises() {
        assertThat(parse("list").line()).isEqualTo("LIST");
        assertThat(parse("list").multiLine()).isTrue();
        assertThat(parse("LIST 3").multiLine()).isFalse();
        assertThat(parse("top 2  10").line()).isEqualTo("TOP 2 10");
        assertThat(parse("uidl").multiLine()).isTrue();
        assertThat(parse("RETR 1").multiLine()).isTrue();
        assertThat(parse("DELE 1").multiLine()).isFalse();
        assertThat(parse("XTND foo")).isNull();
    }

    @Test
    void refusesMalformedArguments() {
        assertThatThrownBy(() -> parse("RETR")).hasMessageContaining("Syntax");
        assertThatThrownBy(() -> parse("RETR 0")).hasMessage("Invalid message number");
        assertThatThrownBy(() -> parse("RETR -1")).hasMessage("Invalid message number");
        assertThatThrownBy(() -> parse("RETR 1\rX")).hasMessage("Invalid message number");
        assertThatThrownBy(() -> parse("STAT 1")).hasMessageContaining("no argument");
        assertThatThrownBy(() -> parse("TOP 1")).hasMessageContaining("TOP msg n");
        assertThatThrownBy(() -> parse("LIST 1 2")).hasMessageContaining("Syntax");
    }
}
