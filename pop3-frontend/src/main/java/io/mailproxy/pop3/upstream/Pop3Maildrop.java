package io.mailproxy.pop3.upstream;

import io.mailproxy.pop3.codec.Pop3Command;
import java.util.List;

/**
 * What a POP3 session talks to in the TRANSACTION state. All methods are called on the client channel's event loop;
 * each writes its own response to the client and then runs {@code done} on that loop. On a fatal upstream failure
 * the maildrop answers {@code -ERR [SYS/TEMP]} and closes the client channel itself.
 */
public interface Pop3Maildrop {

    /** The text after {@code +OK} for the successful PASS / AUTH reply. */
    String greeting();

    /** CAPA lines for the TRANSACTION state besides the session's own (e.g. {@code TOP}, {@code UIDL}). */
    List<String> capabilities();

    /** Runs one command other than QUIT. */
    void execute(Pop3Command command, Runnable done);

    /** QUIT: the UPDATE state applies the deletions, then the final reply is written. The session closes after. */
    void quit(Runnable done);

    /** Ends the session without applying anything (client gone, idle timeout, shutdown). Idempotent. */
    void abandon();
}
