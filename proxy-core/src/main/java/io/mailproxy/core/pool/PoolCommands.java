package io.mailproxy.core.pool;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.core.upstream.UpstreamException.Kind;
import java.util.concurrent.CompletableFuture;

/**
 * The commands a pool itself sends on a channel no session holds: the NOOP that proves an idle channel alive, and
 * the reset that undoes what a session left (IMAP UNSELECT or a SELECT that cannot succeed, SMTP RSET). Each
 * completes normally on the expected reply and fails with an {@link UpstreamException} otherwise. Called on the
 * channel's event loop.
 */
final class PoolCommands {

    /** A SELECT of this fails with NO on any real server, leaving no mailbox selected (RFC 3501 6.3.1). */
    static final String MAILBOX_THAT_CANNOT_EXIST = "mailproxy-reset-nonexistent-0d1f6c2a";

    private final PoolEnv env;
    private final Protocol protocol;

    PoolCommands(PoolEnv env, Protocol protocol) {
        this.env = env;
        this.protocol = protocol;
    }

    /** NOOP: IMAP {@code OK}, SMTP {@code 250}. */
    CompletableFuture<Void> noop(PooledChannel pc) {
        return exchange(pc, "NOOP").thenCompose(line -> check(expect(line, "OK", 250, "NOOP")));
    }

    /** Undoes what the session left: the selected mailbox (IMAP), the SMTP transaction. */
    CompletableFuture<Void> reset(PooledChannel pc) {
        return protocol == Protocol.IMAP ? imapReset(pc)
                : exchange(pc, "RSET").thenCompose(line -> check(expect(line, null, 250, "RSET")));
    }

    /**
     * UNSELECT when the upstream offers it (RFC 3691); a BAD to it means no mailbox was selected, which a SELECT of
     * a mailbox that cannot exist then confirms. Without UNSELECT, that SELECT alone: a failing SELECT leaves no
     * mailbox selected and, unlike CLOSE, expunges nothing (RFC 3501 6.3.1, 6.4.2).
     */
    private CompletableFuture<Void> imapReset(PooledChannel pc) {
        if (pc.session.hasCapability("UNSELECT")) {
            return exchange(pc, "UNSELECT").thenCompose(line -> switch (LineExchange.imapStatus(line)) {
                case "OK" -> CompletableFuture.completedFuture(null);
                case "BAD" -> selectNothing(pc);
                default -> check(unexpected("UNSELECT", line));
            });
        }
        return selectNothing(pc);
    }

    private CompletableFuture<Void> selectNothing(PooledChannel pc) {
        return exchange(pc, "SELECT \"" + MAILBOX_THAT_CANNOT_EXIST + "\"").thenCompose(line ->
                "NO".equals(LineExchange.imapStatus(line)) ? CompletableFuture.completedFuture(null)
                        : check(unexpected("SELECT of a mailbox that cannot exist", line)));
    }

    private CompletableFuture<String> exchange(PooledChannel pc, String command) {
        return LineExchange.run(pc.channel(), protocol, env.nextTag(), command, env.scheduler(),
                env.exchangeTimeout());
    }

    /** Null when {@code line} is the expected success (IMAP status word, or SMTP code). */
    private UpstreamException expect(String line, String imapStatus, int smtpCode, String command) {
        boolean ok = protocol == Protocol.IMAP ? imapStatus.equals(LineExchange.imapStatus(line))
                : LineExchange.smtpCode(line) == smtpCode;
        return ok ? null : unexpected(command, line);
    }

    private static UpstreamException unexpected(String command, String line) {
        return new UpstreamException(Kind.PROTOCOL_ERROR, "unexpected reply to " + command, line, null);
    }

    private static CompletableFuture<Void> check(UpstreamException failure) {
        return failure == null ? CompletableFuture.completedFuture(null) : CompletableFuture.failedFuture(failure);
    }
}
