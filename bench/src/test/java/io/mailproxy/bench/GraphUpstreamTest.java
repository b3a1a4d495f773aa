package io.mailproxy.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The large messages of graph-smtp: about the size asked for, multipart with base64 parts, sendable over SMTP. */
class GraphUpstreamTest {

    @TempDir
    Path dir;

    @Test
    void multipartIsAboutTheSizeAskedWithItsPartsAndNoDotStuffingNeeded() throws Exception {
        Path f = GraphUpstream.multipart(dir.resolve("m.eml"), "sink@bench.test", 5, 2_000_000L, 3);
        long size = Files.size(f);
        assertThat(size).isBetween(1_960_000L, 2_040_000L); // "about": within 2%, part headers included
        String s = Files.readString(f, StandardCharsets.US_ASCII);
        assertThat(s).contains("Content-Type: multipart/mixed; boundary=\"=_bench_5_2000000\"")
                .endsWith("--=_bench_5_2000000--\r\n");
        assertThat(s.split("Content-Transfer-Encoding: base64", -1)).hasSize(4);
        assertThat(s.replace("\r\n", "")).doesNotContain("\r").doesNotContain("\n");
        for (String line : s.split("\r\n")) {
            assertThat(line).doesNotStartWith(".");
            assertThat(line.length()).isLessThanOrEqualTo(998);
        }
    }
}
