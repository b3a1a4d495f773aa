package io.mailproxy.interop;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** The files the real POP3 and SMTP clients are given (config, an MDA) and the messages they leave behind. */
final class ClientFiles {

    private ClientFiles() {
    }

    /** An MDA that writes each message it is given to {@code out}/0000.eml, 0001.eml, … in delivery order. */
    static Path numberingMda(Path home, Path out) throws IOException {
        Path mda = home.resolve("mda.sh");
        Files.writeString(mda, "#!/bin/sh\nn=$(ls '" + out + "' | wc -l)\ncat > '" + out
                + "'/$(printf %04d $n).eml\n");
        Files.setPosixFilePermissions(mda, PosixFilePermissions.fromString("rwx------"));
        return mda;
    }

    /** The bytes of every file in {@code dir}, by name. */
    static List<byte[]> files(Path dir) throws IOException {
        List<byte[]> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.sorted().toList()) {
                out.add(Files.readAllBytes(p));
            }
        }
        return out;
    }

    /** Config files with passwords in them: fetchmail, mpop, msmtp and getmail refuse ones others can read. */
    static Path privateFile(Path file, String text) throws IOException {
        Files.writeString(file, text);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        return file;
    }
}
