package io.mailproxy.core.upstream;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.UpstreamEndpoint;
import io.mailproxy.core.credentials.UpstreamCredentials;
import io.mailproxy.core.credentials.UpstreamCredentials.Login;
import io.mailproxy.core.upstream.UpstreamException.Kind;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.handler.ssl.SslHandler;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The login dialogue on one new upstream channel, run on its event loop: greeting, capabilities, STARTTLS, SASL,
 * the NOOP check, hand-over. Subclasses hold one protocol's commands; this class holds what they share.
 */
abstract class LoginDialogue {

    static final Logger LOG = LoggerFactory.getLogger(NettyUpstreamConnector.class);
    static final String TLS = "tls";

    final AccountConfig account;
    final Protocol protocol;
    final UpstreamEndpoint endpoint;
    final Channel channel;
    final LineChannel lines;
    final CompletableFuture<UpstreamSession> result;
    private final CompletableFuture<Login> login;
    private final Supplier<SslHandler> tlsHandlers;
    private final UpstreamCredentials credentials;
    private final Clock clock;
    private final Duration credentialsWait;
    private final Instant started;
    private final String who;
    String greeting = "";
    Set<String> capabilities = Set.of();
    private Login usedLogin;

    LoginDialogue(Context c) {
        this.account = c.account();
        this.protocol = c.protocol();
        this.endpoint = c.endpoint();
        this.channel = c.channel();
        this.lines = c.lines();
        this.result = c.result();
        this.login = c.login();
        this.tlsHandlers = c.tlsHandlers();
        this.credentials = c.credentials();
        this.clock = c.clock();
        this.credentialsWait = c.credentialsWait();
        this.started = clock.instant();
        this.who = account.name() + " " + endpoint;
    }

    /** What a dialogue needs from the connector. */
    record Context(AccountConfig account, Protocol protocol, UpstreamEndpoint endpoint, Channel channel,
                   LineChannel lines, CompletableFuture<UpstreamSession> result, CompletableFuture<Login> login,
                   Supplier<SslHandler> tlsHandlers, UpstreamCredentials credentials, Clock clock,
                   Duration credentialsWait) { }

    static LoginDialogue create(Context c) {
        return switch (c.protocol()) {
            case IMAP -> new ImapDialogue(c);
            case POP3 -> new Pop3Dialogue(c);
            case SMTP -> new SmtpDialogue(c);
        };
    }

    /** Runs the protocol's dialogue up to the hand-over; completes on the channel's event loop. */
    abstract CompletableFuture<Void> login();

    final void start() {
        login().whenComplete((v, e) -> {
            if (e != null) {
                fail(Failures.classify(e, "during login"));
            } else {
                handOver();
            }
        });
    }

    // ------------------------------------------------------------------ I/O helpers

    final CompletableFuture<String> read(String what) {
        return lines.readLine(what).thenApply(l -> {
            if (LOG.isDebugEnabled()) {
                LOG.debug("{} S: {}", who, l);
            }
            return l;
        });
    }

    /** Sends a line that holds no secret. */
    final void send(String line) {
        send(line, line);
    }

    /** Sends a line, logging {@code logged} (the line with its secret masked) instead. */
    final void send(String line, String logged) {
        if (LOG.isDebugEnabled()) {
            LOG.debug("{} C: {}", who, logged);
        }
        lines.send(line);
    }

    /** The masked form of a SASL response for the log. */
    static String masked(String response) {
        return response.isEmpty() || response.equals("*") ? response : SaslMechanism.MASK;
    }

    /**
     * Starts TLS after the upstream's positive STARTTLS/STLS reply: anything it sent after that reply is an
     * injection attempt (the bytes would be taken as coming from inside TLS) and drops the connection.
     */
    final CompletableFuture<Void> startTls() {
        if (lines.buffered() > 0) {
            return CompletableFuture.failedFuture(new UpstreamException(Kind.TLS_FAILURE, "upstream sent "
                    + lines.buffered() + " bytes after its STARTTLS reply, before the TLS handshake; dropped "
                    + "(possible command injection)"));
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        SslHandler ssl = tlsHandlers.get();
        channel.pipeline().addFirst(TLS, ssl);
        ssl.handshakeFuture().addListener(f -> {
            if (f.isSuccess()) {
                LOG.debug("{} TLS established: {} {}", who, ssl.engine().getSession().getProtocol(),
                        ssl.engine().getSession().getCipherSuite());
                done.complete(null);
            } else {
                done.completeExceptionally(Failures.classify(f.cause(), "in the TLS handshake after STARTTLS"));
            }
        });
        return done;
    }

    /**
     * The credentials, on the channel's event loop. They were requested when the connection was started; once the
     * upstream is ready for AUTH they get at most {@code credentialsWait} more (the reply timeout), so a hung token
     * endpoint cannot hold a connection open forever.
     */
    final CompletableFuture<Login> credentials() {
        CompletableFuture<Login> onLoop = new CompletableFuture<>();
        ScheduledFuture<?> timer = channel.eventLoop().schedule(
                () -> onLoop.completeExceptionally(new UpstreamException(Kind.CREDENTIALS_UNAVAILABLE,
                        "no token or password for " + account.name() + " within " + credentialsWait.toMillis()
                                + " ms (token endpoint slow or down?)")),
                Math.max(1, credentialsWait.toNanos()), TimeUnit.NANOSECONDS);
        onLoop.whenComplete((l, e) -> timer.cancel(false));
        login.whenComplete((l, e) -> channel.eventLoop().execute(() -> {
            if (e != null) {
                Throwable cause = Failures.unwrap(e);
                onLoop.completeExceptionally(cause instanceof UpstreamException u ? u
                        : new UpstreamException(Kind.CREDENTIALS_UNAVAILABLE,
                                "no credentials for " + account.name() + ": " + cause.getMessage(), null, null));
            } else if (onLoop.complete(l)) {
                usedLogin = l;
            }
        }));
        return onLoop;
    }

    /** EHLO's argument: the address literal of our end (RFC 5321 4.1.3), needing no DNS. */
    final String clientName() {
        if (channel.localAddress() instanceof InetSocketAddress a && a.getAddress() != null) {
            return a.getAddress() instanceof Inet6Address
                    ? "[IPv6:" + a.getAddress().getHostAddress().replaceAll("%.*$", "") + "]"
                    : "[" + a.getAddress().getHostAddress() + "]";
        }
        return "[127.0.0.1]";
    }

    static Set<String> orderedSet() {
        return new LinkedHashSet<>();
    }

    // ------------------------------------------------------------------ outcomes

    /** The upstream refused the login: the cached token is dropped so the next attempt fetches a new one. */
    final UpstreamException rejected(String reply, SaslMechanism mech) {
        String extra = mech == null ? "" : mech.serverError().map(s -> " (" + s + ")").orElse("");
        if (usedLogin instanceof Login.Bearer) {
            credentials.invalidate(account, protocol);
        }
        String how = mech == null ? "login" : mech.name() + " login";
        return new UpstreamException(Kind.CREDENTIALS_REJECTED,
                "upstream rejected the " + how + " of " + loginUser() + ": " + reply + extra, reply, null);
    }

    final String loginUser() {
        if (usedLogin instanceof Login.Bearer b) {
            return b.user();
        }
        if (usedLogin instanceof Login.Password p) {
            return p.user();
        }
        return account.mailbox();
    }

    /** Lets a typed outcome leave a future's stage; {@link Failures#classify} unwraps it. */
    static CompletionException unchecked(UpstreamException e) {
        return new CompletionException(e);
    }

    final UpstreamException protocolError(String what, String reply) {
        return new UpstreamException(Kind.PROTOCOL_ERROR, what + ": " + reply, reply, null);
    }

    final void fail(UpstreamException e) {
        if (result.completeExceptionally(e)) {
            LOG.debug("{} login failed: {}", who, e.toString());
        }
        channel.close();
    }

    private void handOver() {
        if (result.isDone()) {
            channel.close();
            return;
        }
        if (!channel.isActive()) {
            fail(new UpstreamException(Kind.UNREACHABLE, "upstream closed the connection right after login"));
            return;
        }
        if (lines.buffered() > 0) {
            fail(new UpstreamException(Kind.PROTOCOL_ERROR, "upstream sent " + lines.buffered()
                    + " unexpected bytes after its NOOP reply (" + lines.bufferedHexHead() + ")"));
            return;
        }
        channel.config().setAutoRead(false);
        channel.pipeline().remove(lines);
        for (Map.Entry<String, ChannelHandler> h : channel.pipeline().toMap().entrySet()) {
            if (!h.getKey().equals(TLS)) {
                channel.pipeline().remove(h.getValue());
            }
        }
        Optional<Instant> expires = usedLogin instanceof Login.Bearer b ? Optional.of(b.token().expiresAt()) : Optional.empty();
        UpstreamSession session = new UpstreamSession(protocol, channel, greeting, capabilities, expires);
        if (result.complete(session)) {
            LOG.debug("{} logged in as {} in {} ms", who, loginUser(),
                    Duration.between(started, clock.instant()).toMillis());
        } else {
            channel.close();
        }
    }
}
