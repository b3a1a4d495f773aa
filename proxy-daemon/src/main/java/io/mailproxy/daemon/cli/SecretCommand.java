package io.mailproxy.daemon.cli;

import io.mailproxy.core.credentials.FileSecretStore;
import io.mailproxy.core.credentials.SecretStore;
import io.mailproxy.daemon.control.ControlClient;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code mailproxy secret set|list|delete}: through the running daemon when there is one, else the store itself. */
@Command(name = "secret", mixinStandardHelpOptions = true,
        description = "Manage the encrypted secret store. 'set NAME' reads the value from standard input (never from "
                + "the command line); 'list' prints the names; 'delete NAME' removes one. Config refers to a secret "
                + "as \"secret:NAME\".")
public final class SecretCommand implements Callable<Integer> {

    @Mixin
    ConfigOption config;

    @Parameters(index = "0", paramLabel = "ACTION", description = "set, list or delete")
    String action;

    @Parameters(index = "1", paramLabel = "NAME", arity = "0..1", description = "the secret's name")
    String name;

    @Override
    public Integer call() throws IOException {
        Path stateDir = config.load().stateDir();
        boolean viaDaemon = ControlClient.isRunning(stateDir);
        ControlClient daemon = new ControlClient(stateDir);
        switch (action) {
            case "set" -> {
                requireName();
                String value = readValue();
                if (viaDaemon) {
                    daemon.putSecret(name, value);
                } else {
                    store(stateDir).put(name, value);
                }
                System.out.println("stored secret " + name + (viaDaemon ? " (through the running daemon)" : ""));
            }
            case "list" -> {
                List<String> names = viaDaemon ? daemon.listSecrets() : store(stateDir).names();
                names.forEach(System.out::println);
            }
            case "delete" -> {
                requireName();
                boolean existed = viaDaemon ? daemon.deleteSecret(name) : store(stateDir).delete(name);
                if (!existed) {
                    System.err.println("mailproxy: no secret named " + name);
                    return ExitCodes.RUNTIME_FAILURE;
                }
                System.out.println("deleted secret " + name);
            }
            default -> {
                System.err.println("mailproxy secret: unknown action '" + action + "': expected set, list or delete");
                return ExitCodes.USAGE;
            }
        }
        return ExitCodes.OK;
    }

    private void requireName() {
        if (name == null || name.isBlank()) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                    "secret " + action + " needs a NAME");
        }
    }

    private static SecretStore store(Path stateDir) {
        return FileSecretStore.open(stateDir, System.getenv());
    }

    /** The whole of standard input, less one trailing newline (so `echo value |` and a here-string both work). */
    private static String readValue() throws IOException {
        if (System.console() != null) {
            char[] typed = System.console().readPassword("value for the secret (not echoed): ");
            if (typed == null) {
                throw new IOException("no value given");
            }
            return new String(typed);
        }
        StringBuilder b = new StringBuilder();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            char[] buf = new char[4096];
            for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
                b.append(buf, 0, n);
                if (b.length() > 1 << 20) {
                    throw new IOException("the value is over 1 MiB: that is not a secret");
                }
            }
        }
        int end = b.length();
        if (end > 0 && b.charAt(end - 1) == '\n') {
            end--;
            if (end > 0 && b.charAt(end - 1) == '\r') {
                end--;
            }
        }
        if (end == 0) {
            throw new IOException("no value on standard input");
        }
        return b.substring(0, end);
    }
}
