package io.mailproxy.daemon.cli;

import io.mailproxy.daemon.demo.Demo;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mailproxy demo}: no Office 365 account needed. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run the daemon against an embedded TLS mail server (GreenMail) holding a demo mailbox, and "
                + "print curl commands that work through it. Runs until Ctrl-C.")
public final class DemoCommand implements Callable<Integer> {

    @Option(names = "--imap-port", defaultValue = "1143", description = "Local IMAP port (default ${DEFAULT-VALUE}).")
    int imapPort;

    @Option(names = "--pop3-port", defaultValue = "1110", description = "Local POP3 port (default ${DEFAULT-VALUE}).")
    int pop3Port;

    @Option(names = "--smtp-port", defaultValue = "1025", description = "Local SMTP port (default ${DEFAULT-VALUE}).")
    int smtpPort;

    @Override
    public Integer call() throws Exception {
        try (Demo demo = Demo.start(imapPort, pop3Port, smtpPort)) {
            demo.printInstructions(System.out);
            return RunCommand.serveUntilSignalled(demo.daemon(), demo::config);
        }
    }
}
