package io.mailproxy.interop;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Runs a Python 3 script with {@code /usr/bin/python3} (the system's, with imaplib, poplib and smtplib). */
final class Python {

    private Python() {
    }

    static Proc.Result run(Path scratch, String script, String... args) throws IOException {
        Path file = Files.writeString(scratch.resolve("script-" + System.nanoTime() + ".py"), script);
        List<String> cmd = new ArrayList<>(List.of(python(), file.toString()));
        cmd.addAll(List.of(args));
        return Proc.run(Duration.ofSeconds(120), cmd);
    }

    private static String python() {
        return Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
    }
}
