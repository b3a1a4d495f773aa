package io.mailproxy.daemon.cli;

/** Thrown by a subcommand whose machinery has not landed yet; exits 1 with its message. */
final class NotAvailableYet extends RuntimeException {
    private static final long serialVersionUID = 1L;

    NotAvailableYet(String what) {
        super(what + " is not available yet in this build");
    }
}
