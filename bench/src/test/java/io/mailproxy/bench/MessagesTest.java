package io.mailproxy.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class MessagesTest {

    @Test
    void exactSizeCrlfOnlyAndNoDotStuffingNeeded() {
        for (int size : new int[] {300, 301, 302, 303, 10 * 1024, 1024 * 1024}) {
            byte[] m = Messages.message("u01@bench.test", 7, size);
            assertThat(m).hasSize(size);
            String s = new String(m, StandardCharsets.US_ASCII);
            assertThat(s).startsWith("From: bench@bench.test\r\n").endsWith("\r\n");
            assertThat(s.replace("\r\n", "")).doesNotContain("\r").doesNotContain("\n");
            for (String line : s.split("\r\n")) {
                assertThat(line).doesNotStartWith(".");
                assertThat(line.length()).isLessThanOrEqualTo(78);
            }
        }
    }

    @Test
    void deterministic() {
        assertThat(Messages.message("a", 3, 5000)).isEqualTo(Messages.message("a", 3, 5000));
        assertThat(Messages.message("a", 3, 5000)).isNotEqualTo(Messages.message("a", 4, 5000));
    }
}
