package io.mailproxy.daemon.cli;

import io.mailproxy.core.config.ConfigException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The top-level {@code mailproxy} command; every subcommand has {@code --help}. */
@Command(name = "mailproxy", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "Local mail proxy: plaintext IMAP, POP3 and SMTP for legacy apps, relayed to Office 365 "
                + "(or any provider) over TLS with OAuth 2.0.",
        subcommands = {
            RunCommand.class, DemoCommand.class, CheckCommand.class, LoginCommand.class, SecretCommand.class,
            HashPasswordCommand.class, StatusCommand.class, QueueCommand.class, CommandLine.HelpCommand.class})
public final class MailproxyCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required");
    }

    /** Runs the command line and returns the exit code (0 ok, 1 runtime failure, 2 usage or config). */
    public static int execute(String... args) {
        return commandLine().execute(args);
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new MailproxyCommand());
        cl.setExecutionExceptionHandler((e, cmd, parseResult) -> {
            PrintWriter err = cmd.getErr();
            if (e instanceof ConfigException) {
                err.println("mailproxy: configuration error: " + e.getMessage());
                for (Throwable more : e.getSuppressed()) {
                    err.println("mailproxy: configuration error: " + more.getMessage());
                }
                err.flush();
                return ExitCodes.USAGE;
            }
            err.println("mailproxy: " + cmd.getCommandName() + " failed: " + describe(e));
            err.flush();
            return ExitCodes.RUNTIME_FAILURE;
        });
        return cl;
    }

    private static String describe(Throwable e) {
        String message = e.getMessage();
        return message == null ? e.getClass().getSimpleName() : message;
    }
}
