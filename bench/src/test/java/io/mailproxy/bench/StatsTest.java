package io.mailproxy.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class StatsTest {

    @Test
    void medianOfOddAndEvenSamples() {
        assertThat(Stats.of(new double[] {5, 1, 3}).median()).isEqualTo(3);
        assertThat(Stats.of(new double[] {4, 1, 3, 2}).median()).isEqualTo(2.5);
    }

    @Test
    void nearestRankPercentilesAndRange() {
        double[] v = new double[100];
        for (int i = 0; i < 100; i++) {
            v[i] = 100 - i; // 100..1, unsorted on purpose
        }
        Stats s = Stats.of(v);
        assertThat(s.percentile(99)).isEqualTo(99);
        assertThat(s.percentile(25)).isEqualTo(25);
        assertThat(s.percentile(100)).isEqualTo(100);
        assertThat(s.min()).isEqualTo(1);
        assertThat(s.max()).isEqualTo(100);
        assertThat(s.n()).isEqualTo(100);
    }

    @Test
    void summaryGivesMedianRangeAndIqr() {
        assertThat(Stats.of(new double[] {1, 2, 3, 4, 5}).summary("%.0f")).isEqualTo("3 (1–5; IQR 2–4)");
    }
}
