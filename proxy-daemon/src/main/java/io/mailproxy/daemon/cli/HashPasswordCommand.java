package io.mailproxy.daemon.cli;

import io.mailproxy.core.identity.PasswordHasher;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code mailproxy hash-password}: the Argon2id hash for a client entry's {@code password}. */
@Command(name = "hash-password", mixinStandardHelpOptions = true,
        description = "Read a password on standard input and print its Argon2id hash, to put in a client entry "
                + "(clients.\"NAME\".password). The password never appears on the command line.")
public final class HashPasswordCommand implements Callable<Integer> {

    @picocli.CommandLine.Mixin
    ConfigOption config;

    @Override
    public Integer call() throws IOException {
        byte[] password;
        if (System.console() != null) {
            char[] typed = System.console().readPassword("password: ");
            char[] again = System.console().readPassword("again: ");
            if (typed == null || again == null || !Arrays.equals(typed, again)) {
                System.err.println("mailproxy: the passwords differ");
                return ExitCodes.USAGE;
            }
            password = new String(typed).getBytes(StandardCharsets.UTF_8);
            Arrays.fill(typed, '\0');
            Arrays.fill(again, '\0');
        } else {
            password = readLine(System.in);
        }
        if (password.length == 0) {
            System.err.println("mailproxy: empty password");
            return ExitCodes.USAGE;
        }
        try {
            System.out.println(PasswordHasher.hash(password));
        } finally {
            Arrays.fill(password, (byte) 0);
        }
        return ExitCodes.OK;
    }

    /** The first line of standard input, without its line ending. */
    static byte[] readLine(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int c = in.read(); c >= 0 && c != '\n'; c = in.read()) {
            if (b.size() > 4096) {
                throw new IOException("password over 4096 bytes");
            }
            b.write(c);
        }
        byte[] line = b.toByteArray();
        if (line.length > 0 && line[line.length - 1] == '\r') {
            line = Arrays.copyOf(line, line.length - 1);
        }
        return line;
    }
}
