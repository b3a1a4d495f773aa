package io.mailproxy.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/** Prints result tables (Markdown) and appends them to bench/results/NAME.md for docs/BENCHMARKS.md. */
final class Report {

    private final Path file;
    private final StringBuilder text = new StringBuilder();

    Report(Path dir, String name) throws IOException {
        Files.createDirectories(dir);
        this.file = dir.resolve(name + ".md");
    }

    Report line(String fmt, Object... args) {
        String s = String.format(Locale.ROOT, fmt, args);
        System.out.println(s);
        text.append(s).append('\n');
        return this;
    }

    void flush() throws IOException {
        Files.writeString(file, text, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        text.setLength(0);
    }
}
