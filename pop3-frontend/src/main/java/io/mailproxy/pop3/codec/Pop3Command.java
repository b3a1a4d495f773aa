package io.mailproxy.pop3.codec;

/**
 * A syntactically valid TRANSACTION-state command (RFC 1939 section 5 and 7, RFC 2449 CAPA is answered by the
 * session itself).
 *
 * @param message the message number argument, or 0 when absent
 * @param lines   TOP's line count, or -1 when absent
 */
public record Pop3Command(Verb verb, int message, long lines) {

    public enum Verb { STAT, LIST, RETR, DELE, NOOP, RSET, QUIT, TOP, UIDL }

    /** True when a {@code +OK} reply to this command is multi-line. */
    public boolean multiLine() {
        return switch (verb) {
            case RETR, TOP -> true;
            case LIST, UIDL -> message == 0;
            default -> false;
        };
    }

    /** The canonical command line (what is sent upstream), without CRLF. */
    public String line() {
        return switch (verb) {
            case TOP -> "TOP " + message + " " + lines;
            default -> message == 0 ? verb.name() : verb.name() + " " + message;
        };
    }

    /**
     * Parses a TRANSACTION command.
     *
     * @return the command, or null when the verb is not a TRANSACTION command
     * @throws IllegalArgumentException with the client-facing reason when the arguments are malformed
     */
    public static Pop3Command parse(Pop3CommandLine line) {
        Verb verb;
        try {
            verb = Verb.valueOf(line.verb());
        } catch (IllegalArgumentException e) {
            return null;
        }
        String arg = line.argument().strip();
        String[] args = arg.isEmpty() ? new String[0] : arg.split(" +");
        return switch (verb) {
            case STAT, NOOP, RSET, QUIT -> {
                if (args.length != 0) {
                    throw new IllegalArgumentException("Syntax: " + verb + " takes no argument");
                }
                yield new Pop3Command(verb, 0, -1);
            }
            case LIST, UIDL -> {
                if (args.length > 1) {
                    throw new IllegalArgumentException("Syntax: " + verb + " [msg]");
                }
                yield new Pop3Command(verb, args.length == 0 ? 0 : number(args[0]), -1);
            }
            case RETR, DELE -> {
                if (args.length != 1) {
                    throw new IllegalArgumentException("Syntax: " + verb + " msg");
                }
                yield new Pop3Command(verb, number(args[0]), -1);
            }
            case TOP -> {
                if (args.length != 2) {
                    throw new IllegalArgumentException("Syntax: TOP msg n");
                }
                yield new Pop3Command(verb, number(args[0]), count(args[1]));
            }
        };
    }

    private static int number(String s) {
        if (s.isEmpty() || s.length() > 9 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException("Invalid message number");
        }
        int n = Integer.parseInt(s);
        if (n == 0) {
            throw new IllegalArgumentException("Invalid message number");
        }
        return n;
    }

    private static long count(String s) {
        if (s.isEmpty() || s.length() > 18 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException("Invalid line count");
        }
        return Long.parseLong(s);
    }
}
