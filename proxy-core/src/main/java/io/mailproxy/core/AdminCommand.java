package io.mailproxy.core;

/**
 * How an administrator types mailproxy's commands, for the hints in messages ("run ./mailproxy login ACCOUNT"):
 * {@code ./mailproxy} from a checkout (the launcher at the repository root), {@code mailproxy} as installed
 * (/usr/bin/mailproxy of the Debian package, /usr/local/bin/mailproxy of install.sh, and the systemd unit), whose
 * launcher sets the environment variable {@value #ENV}. The system property {@value #PROPERTY} wins over it (tests,
 * or a wrapper of one's own). Read at each call: nothing is cached.
 */
public final class AdminCommand {

    /** Set by the installed launcher and the systemd unit: {@code MAILPROXY_COMMAND=mailproxy}. */
    public static final String ENV = "MAILPROXY_COMMAND";
    public static final String PROPERTY = "mailproxy.command";
    private static final String CHECKOUT = "./mailproxy";

    private AdminCommand() {
    }

    /** {@code ./mailproxy} or {@code mailproxy}. */
    public static String name() {
        String p = System.getProperty(PROPERTY);
        if (p != null && !p.isBlank()) {
            return p.strip();
        }
        String e = System.getenv(ENV);
        return e != null && !e.isBlank() ? e.strip() : CHECKOUT;
    }

    /** The command line for {@code args}: {@code of("login a@b.com")} is {@code mailproxy login a@b.com} installed. */
    public static String of(String args) {
        return name() + " " + args;
    }
}
