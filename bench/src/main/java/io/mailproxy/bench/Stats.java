package io.mailproxy.bench;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** Order statistics of a sample (nearest-rank percentiles). */
record Stats(double[] sorted) {

    static Stats of(List<Double> values) {
        double[] a = values.stream().mapToDouble(Double::doubleValue).toArray();
        return of(a);
    }

    static Stats of(double[] values) {
        if (values.length == 0) {
            throw new IllegalArgumentException("no samples");
        }
        double[] a = values.clone();
        Arrays.sort(a);
        return new Stats(a);
    }

    int n() {
        return sorted.length;
    }

    double percentile(double p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    double median() {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    double min() {
        return sorted[0];
    }

    double max() {
        return sorted[sorted.length - 1];
    }

    double mean() {
        return Arrays.stream(sorted).average().orElseThrow();
    }

    /** "median (min–max; IQR p25–p75)" with the given format. */
    String summary(String fmt) {
        return String.format(Locale.ROOT, fmt + " (" + fmt + "–" + fmt + "; IQR " + fmt + "–" + fmt + ")", median(),
                min(), max(), percentile(25), percentile(75));
    }
}
