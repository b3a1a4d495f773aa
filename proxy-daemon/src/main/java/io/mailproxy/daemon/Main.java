package io.mailproxy.daemon;

import io.mailproxy.daemon.cli.MailproxyCommand;

/** Entry point of the runnable jar; exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad config. */
public final class Main {

    private Main() { }

    public static void main(String[] args) {
        int code = MailproxyCommand.execute(args);
        System.exit(code);
    }
}
