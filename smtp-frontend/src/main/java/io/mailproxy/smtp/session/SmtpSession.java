package io.mailproxy.smtp.session;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.ClientConfig.SmtpPolicy;
import io.mailproxy.core.identity.LocalLogin;
import io.mailproxy.core.pool.Lease;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.spi.ListenerContext;
import io.mailproxy.core.spi.ShutdownEvent;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.smtp.codec.MailArguments;
import io.mailproxy.smtp.codec.SmtpCommand;
import io.mailproxy.smtp.codec.SmtpInbound.CommandLine;
import io.mailproxy.smtp.codec.SmtpInbound.DataAbandoned;
import io.mailproxy.smtp.codec.SmtpInbound.DataChunk;
import io.mailproxy.smtp.codec.SmtpInbound.DataEnd;
import io.mailproxy.smtp.codec.SmtpInbound.DataOutcome;
import io.mailproxy.smtp.codec.SmtpInbound.DataRefused;
import io.mailproxy.smtp.codec.SmtpInbound.LineTooLong;
import io.mailproxy.smtp.codec.SmtpReply;
import io.mailproxy.smtp.codec.SmtpServerDecoder;
import io.mailproxy.smtp.rewrite.HeaderBlockTooLargeException;
import io.mailproxy.smtp.rewrite.SenderRewriter;
import io.mailproxy.smtp.queue.Spool;
import io.mailproxy.smtp.upstream.UpstreamTransaction;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client's SMTP submission session: RFC 5321 command order, AUTH (RFC 4954), pipelining (RFC 2920), STARTTLS
 * (RFC 3207), and the relay of each transaction over a leased upstream connection.
 *
 * <p>Everything runs on the client channel's event loop. The session pauses the {@link SmtpServerDecoder} whenever
 * it waits (for the authenticator, the pool, an upstream reply, a writable upstream); a pipelined command that must
 * wait is kept in {@link #deferred} and handled when the wait ends, so replies always come in command order.
 *
 * <p>For a client with {@code smtp.queue = true} (store-and-forward), nothing goes upstream: MAIL, RCPT and DATA are
 * answered locally, the message streams into a {@link Spool.Writer} (the client is not read while a write is
 * pending, and every write and fsync runs on the blocking executor), and the final reply,
 * {@code 250 2.0.0 Queued as ID}, comes only once the message and its envelope are fsynced (DESIGN rule 5).
 */
public final class SmtpSession extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(SmtpSession.class);
    private static final int MAX_ERRORS = 20;
    /** NOOP, RSET, VRFY and HELP a client may send without a MAIL before each one counts as an error (Postfix: 100). */
    private static final int JUNK_LIMIT = 100;

    private final CoreServices services;
    private final ListenerContext listener;
    private final SmtpSettings settings;
    private final SmtpServerDecoder decoder;
    /** The store-and-forward spool, or null when the queue is not available (tests of pass-through only). */
    private final Spool spool;

    private ChannelHandlerContext ctx;
    private String sid = "-";
    private SmtpState state = SmtpState.CONNECTED;
    private boolean started;
    private boolean esmtp;
    private LocalLogin.Accepted login;
    private SaslMechanism sasl;
    private boolean authPending;
    /** STARTTLS answered, SslHandler not yet in place: no input may be read. */
    private boolean tlsStarting;
    private Transaction tx;
    /**
     * Completes once the lease of the session's last relayed transaction is back in the pool. The next MAIL acquires
     * only after that: a client that pipelines its next MAIL behind the final dot (or sends it the moment the final
     * 250 arrives) would otherwise ask the pool while the previous connection is still on its way back, and the pool,
     * finding nothing idle, would open a second one (Office 365 allows 3 per mailbox: 432 4.3.2). The final reply
     * itself never waits for this.
     */
    private CompletableFuture<Void> previousLease = CompletableFuture.completedFuture(null);
    /** Longest wait for the previous transaction's lease before the next MAIL asks the pool anyway. */
    private static final long PREVIOUS_LEASE_WAIT_MILLIS = 10_000;
    private String deferred;
    private boolean shuttingDown;
    private int errors;
    private int loginFailures;
    private int junk;
    private ScheduledFuture<?> idleTimer;
    private boolean dataActivity;

    public SmtpSession(CoreServices services, ListenerContext listener, SmtpSettings settings, SmtpServerDecoder decoder) {
        this(services, listener, settings, decoder, null);
    }

    /** @param spool where clients with {@code smtp.queue = true} store their messages (null: pass-through only) */
    public SmtpSession(CoreServices services, ListenerContext listener, SmtpSettings settings, SmtpServerDecoder decoder,
                       Spool spool) {
        this.services = services;
        this.listener = listener;
        this.settings = settings;
        this.decoder = decoder;
        this.spool = spool;
    }

    /** One transaction's upstream side and progress. */
    private static final class Transaction {
        final AccountConfig account;
        final MailArguments mail;
        final long maxSize;
        UpstreamTransaction up;
        /** Completes once this transaction's lease (if it got one) has ended and the pool has it back. */
        final CompletableFuture<Void> leaseBack = new CompletableFuture<>();
        /** The pool was asked (after the previous transaction's lease came back, or the wait for it timed out). */
        boolean acquireStarted;
        boolean acquiring = true;
        boolean cancelled;
        /** No more upstream use: MAIL refused, or the connection lost. */
        boolean dead;
        int recipients;
        int accepted;
        boolean awaiting354;
        boolean awaitingFinal;
        boolean backpressure;
        SenderRewriter rewriter;
        SmtpReply abortReply;
        /** Store-and-forward: no upstream in the session; the message goes to the spool. */
        boolean queued;
        final List<String> rcpts = new ArrayList<>();
        Spool.Writer writer;
        /** The spool commit has started: the message is no longer the session's to drop. */
        boolean committing;

        Transaction(AccountConfig account, MailArguments mail, long maxSize) {
            this.account = account;
            this.mail = mail;
            this.maxSize = maxSize;
        }

        int outstanding() {
            return up == null ? 0 : up.outstanding();
        }
    }

    // ---------------------------------------------------------------- channel events

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        if (ctx.channel().isActive()) {
            start();
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        start();
        ctx.fireChannelActive();
    }

    private void start() {
        if (started) {
            return;
        }
        started = true;
        sid = listener.sessionId(ctx.channel());
        listener.fixedClient().ifPresent(this::loginFixed);
        send("220 " + settings.hostname() + " mailproxy ESMTP ready\r\n");
        ctx.flush();
        armIdle();
        decoder.resume();
    }

    private void loginFixed(String name) {
        try {
            LocalLogin result = services.authenticator().fixed(name, Protocol.SMTP);
            if (result instanceof LocalLogin.Accepted accepted) {
                loggedIn(accepted, "fixed client of " + listener.config().describe());
            } else {
                log.warn("[{}] fixed client {} of listener {} cannot send: {}", sid, name,
                        listener.config().describe(), ((LocalLogin.Rejected) result).reason());
            }
        } catch (RuntimeException e) {
            log.warn("[{}] fixed client {} of listener {} could not be resolved: {}", sid, name,
                    listener.config().describe(), e.toString());
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (state == SmtpState.CLOSED) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof CommandLine line) {
            armIdle();
            onLine(line.text());
        } else if (msg instanceof DataChunk chunk) {
            dataActivity = true;
            onChunk(chunk);
        } else if (msg instanceof DataRefused refused) {
            onDataRefused(refused.outcome());
        } else if (msg instanceof DataAbandoned abandoned) {
            onDataAbandoned(abandoned);
        } else if (msg instanceof DataEnd end) {
            armIdle();
            onDataEnd(end);
        } else if (msg instanceof LineTooLong) {
            armIdle();
            if (state == SmtpState.AUTH) {
                sasl = null;
                state = SmtpState.READY;
            }
            error("500 5.5.2 Line too long");
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (state == SmtpState.DATA) {
            // bytes of a message arrived, maybe only into the framer's discard of a refused one (which passes the
            // session nothing until the end): the client is sending, not idle
            dataActivity = true;
        }
        ctx.flush();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (state != SmtpState.CLOSED) {
            log.debug("[{}] client disconnected in state {}", sid, state);
        }
        state = SmtpState.CLOSED;
        cancelIdle();
        abandonTransaction();
        ctx.fireChannelInactive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ShutdownEvent) {
            shuttingDown = true;
            if (state != SmtpState.CLOSED && safeToStop()) {
                goodbye("421 4.3.2 " + settings.hostname() + " Service shutting down");
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("[{}] client connection error: {}", sid, cause.toString());
        if (state != SmtpState.CLOSED) {
            goodbye("421 4.3.0 " + settings.hostname() + " Local error, closing connection");
        }
    }

    // ---------------------------------------------------------------- commands

    private void onLine(String line) {
        if (mustWait(line)) {
            deferred = line;
            decoder.pause();
            return;
        }
        handleLine(line);
        if (hardBlocked()) {
            decoder.pause();
        }
    }

    /** Resumes after a wait: the deferred command first, then reading. */
    private void proceed() {
        if (state == SmtpState.CLOSED) {
            return;
        }
        if (tx != null && tx.dead && tx.outstanding() == 0 && state == SmtpState.READY) {
            // MAIL was refused: once the replies to pipelined commands are in, the connection goes back
            endTransaction();
        }
        while (deferred != null && !mustWait(deferred) && state != SmtpState.CLOSED) {
            String line = deferred;
            deferred = null;
            handleLine(line);
        }
        if (state == SmtpState.CLOSED) {
            return;
        }
        if (deferred == null && !hardBlocked()) {
            decoder.resume();
        } else {
            decoder.pause();
        }
    }

    private boolean hardBlocked() {
        return state == SmtpState.CLOSED || authPending || tlsStarting
                || (tx != null && (tx.acquiring || tx.awaiting354 || tx.awaitingFinal || tx.backpressure
                        || (tx.outstanding() > 0 && !tx.up.pipelining())));
    }

    /** A command waits while replies to earlier ones are due, except RCPT pipelined behind MAIL/RCPT. */
    private boolean mustWait(String line) {
        if (hardBlocked()) {
            return true;
        }
        if (tx == null || tx.outstanding() == 0) {
            return false;
        }
        boolean rcpt = line.length() >= 4 && line.regionMatches(true, 0, "RCPT", 0, 4);
        return !(rcpt && state == SmtpState.MAIL && !tx.dead && tx.up.pipelining());
    }

    private void handleLine(String line) {
        if (shuttingDown && safeToStop()) {
            goodbye("421 4.3.2 " + settings.hostname() + " Service shutting down");
            return;
        }
        if (state == SmtpState.AUTH) {
            saslResponse(line);
            return;
        }
        SmtpCommand cmd = SmtpCommand.parse(line);
        switch (cmd.verb()) {
            case "EHLO" -> helo(cmd, true);
            case "HELO" -> helo(cmd, false);
            case "AUTH" -> auth(cmd);
            case "MAIL" -> mail(cmd);
            case "RCPT" -> rcpt(cmd);
            case "DATA" -> data(cmd);
            case "RSET" -> {
                endTransaction();
                if (state != SmtpState.CONNECTED) {
                    state = SmtpState.READY;
                }
                junk("250 2.0.0 OK");
            }
            case "NOOP" -> junk("250 2.0.0 OK");
            case "QUIT" -> {
                endTransaction();
                goodbye("221 2.0.0 " + settings.hostname() + " closing connection");
            }
            case "VRFY" -> junk("252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
            case "EXPN" -> error("502 5.5.1 EXPN not supported");
            case "HELP" -> junk("214 2.0.0 Commands: EHLO HELO AUTH MAIL RCPT DATA RSET NOOP QUIT VRFY HELP"
                    + (startTlsOffered() ? " STARTTLS" : ""));
            case "STARTTLS" -> startTls(cmd);
            case "BDAT" -> error("502 5.5.1 BDAT not supported (CHUNKING is not offered)");
            case "GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS" -> {
                log.info("[{}] an HTTP request reached the SMTP listener; closing", sid);
                goodbye("421 4.7.0 " + settings.hostname() + " This is an SMTP server, closing connection");
            }
            default -> error("500 5.5.1 Command unrecognized");
        }
    }

    private void helo(SmtpCommand cmd, boolean extended) {
        String name = cmd.argument().trim();
        if (name.isEmpty() || name.contains(" ")) {
            error("501 5.5.4 Syntax: " + (extended ? "EHLO" : "HELO") + " hostname");
            return;
        }
        if (name.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            // RFC 5321 4.1.1.1: a domain or an address literal. Legacy devices send odd names (underscores, bare
            // host names), which pass; control characters are neither and never pass.
            error("501 5.5.4 Invalid domain name");
            return;
        }
        endTransaction();
        esmtp = extended;
        state = SmtpState.READY;
        if (!extended) {
            reply("250 " + settings.hostname());
            return;
        }
        List<String> lines = new ArrayList<>();
        lines.add(settings.hostname() + " greets " + name.replaceAll("\\p{Cc}", "?"));
        lines.add("PIPELINING");
        lines.add("SIZE " + settings.maxMessageSize());
        if (settings.eightBitMime()) {
            lines.add("8BITMIME");
        }
        if (settings.smtpUtf8()) {
            lines.add("SMTPUTF8");
        }
        lines.add("ENHANCEDSTATUSCODES");
        if (listener.fixedClient().isEmpty() && login == null && !tlsRequiredForAuth()) {
            lines.add("AUTH PLAIN LOGIN");
        }
        if (startTlsOffered()) {
            lines.add("STARTTLS");
        }
        lines.add("HELP");
        send(new SmtpReply(250, lines).encode());
    }

    private boolean startTlsOffered() {
        return listener.startTlsAvailable() && !listener.isSecure(ctx.channel());
    }

    /** RFC 3207 4, RFC 4954 4: a listener that offers STARTTLS takes passwords in plaintext only from loopback. */
    private boolean tlsRequiredForAuth() {
        return startTlsOffered() && !(ctx.channel().remoteAddress() instanceof java.net.InetSocketAddress remote
                && remote.getAddress() != null && remote.getAddress().isLoopbackAddress());
    }

    private void startTls(SmtpCommand cmd) {
        if (!startTlsOffered()) {
            error(listener.isSecure(ctx.channel()) ? "503 5.5.1 TLS already active" : "502 5.5.1 STARTTLS not available");
            return;
        }
        if (!cmd.argument().isEmpty()) {
            error("501 5.5.4 Syntax: STARTTLS");
            return;
        }
        if (state == SmtpState.MAIL) {
            error("503 5.5.1 STARTTLS not allowed inside a mail transaction");
            return;
        }
        Optional<SslHandler> ssl = listener.newServerSslHandler(ctx.channel());
        if (ssl.isEmpty()) {
            error("454 4.7.0 TLS not available due to temporary reason");
            return;
        }
        // Nothing the client pipelined behind STARTTLS may count (RFC 3207 5, CVE-2011-0411).
        decoder.pause();
        decoder.discardBuffered();
        tlsStarting = true;
        ctx.writeAndFlush(ByteBufUtil.writeAscii(ctx.alloc(), "220 2.0.0 Ready to start TLS\r\n")).addListener(f -> {
            tlsStarting = false;
            if (state == SmtpState.CLOSED) {
                return;
            }
            if (!f.isSuccess()) {
                // Reading stays paused and the client cannot know whether TLS starts: nothing can go on. Left open,
                // the session would sit unread until the idle timer.
                log.debug("[{}] the reply to STARTTLS could not be sent ({}); closing", sid, f.cause().toString());
                ctx.close();
                return;
            }
            ctx.pipeline().addFirst("tls", ssl.get());
            // RFC 3207 4.2: forget everything learnt before TLS
            state = SmtpState.CONNECTED;
            esmtp = false;
            if (listener.fixedClient().isEmpty()) {
                login = null;
            }
            decoder.discardBuffered();
            proceed();
        });
    }

    // ---------------------------------------------------------------- AUTH (RFC 4954)

    private void auth(SmtpCommand cmd) {
        if (state == SmtpState.CONNECTED) {
            error("503 5.5.1 Send EHLO first");
            return;
        }
        if (login != null || listener.fixedClient().isPresent()) {
            error("503 5.5.1 Already authenticated");
            return;
        }
        if (state == SmtpState.MAIL) {
            error("503 5.5.1 AUTH not allowed inside a mail transaction");
            return;
        }
        if (tlsRequiredForAuth()) {
            error("530 5.7.0 Must issue a STARTTLS command first");
            return;
        }
        String[] parts = cmd.argument().trim().split(" ", -1);
        if (parts[0].isEmpty() || parts.length > 2) {
            error("501 5.5.4 Syntax: AUTH mechanism [initial-response]");
            return;
        }
        SaslMechanism mechanism = SaslMechanism.forName(parts[0].toUpperCase(java.util.Locale.ROOT));
        if (mechanism == null) {
            error("504 5.5.4 Unrecognized authentication type");
            return;
        }
        sasl = mechanism;
        state = SmtpState.AUTH;
        saslStep(mechanism.start(parts.length == 2 ? parts[1] : null));
    }

    private void saslResponse(String line) {
        if (line.equals("*")) {
            sasl = null;
            state = SmtpState.READY;
            error("501 5.7.0 Authentication cancelled");
            return;
        }
        saslStep(sasl.next(line));
    }

    private void saslStep(SaslMechanism.Step step) {
        if (step instanceof SaslMechanism.Challenge challenge) {
            send("334 " + challenge.base64() + "\r\n");
            return;
        }
        sasl = null;
        state = SmtpState.READY;
        if (step instanceof SaslMechanism.Malformed malformed) {
            error("501 5.5.2 Cannot decode response: " + malformed.why());
            return;
        }
        if (step instanceof SaslMechanism.Refused refused) {
            log.info("[{}] AUTH refused: {}", sid, refused.why());
            error("535 5.7.8 Authentication credentials invalid");
            return;
        }
        SaslMechanism.Credentials credentials = (SaslMechanism.Credentials) step;
        authPending = true;
        decoder.pause();
        byte[] password = credentials.password();
        String name = credentials.login();
        services.authenticator().authenticate(name, password, Protocol.SMTP, ctx.channel().remoteAddress())
                .whenComplete((result, failure) -> onLoop(() -> {
                    Arrays.fill(password, (byte) 0);
                    authPending = false;
                    if (state == SmtpState.CLOSED) {
                        return;
                    }
                    if (result instanceof LocalLogin.Accepted accepted) {
                        loggedIn(accepted, "AUTH");
                        reply("235 2.7.0 Authentication successful");
                    } else if (result instanceof LocalLogin.Rejected rejected) {
                        log.info("[{}] AUTH failed for {}: {}", sid, printable(name), rejected.reason());
                        loginFailed("535 5.7.8 Authentication credentials invalid");
                    } else if (result instanceof LocalLogin.Throttled throttled) {
                        // LocalIdentities logs the penalty once per name and interval: no line per attempt here
                        log.debug("[{}] AUTH for {} slowed down: {}", sid, printable(name), throttled.reason());
                        loginFailed("454 4.7.0 Login slowed down after repeated failures, try again later");
                    } else {
                        log.warn("[{}] AUTH for {} could not be checked: {}", sid, printable(name),
                                String.valueOf(unwrap(failure)));
                        reply("454 4.7.0 Temporary authentication failure");
                    }
                    proceed();
                }));
    }

    /** A failed login's reply; at {@code limits.max-login-failures} the connection ends (OpenSSH's MaxAuthTries). */
    private void loginFailed(String line) {
        error(line);
        if (++loginFailures >= services.authenticator().maxLoginFailures()) {
            log.info("[{}] connection closed after {} failed logins", sid, loginFailures);
            io.mailproxy.core.runtime.SessionLog.outcome(ctx.channel(), "login-failures");
            goodbye("421 4.7.0 " + settings.hostname() + " Too many failed logins, closing connection");
        }
    }

    private void loggedIn(LocalLogin.Accepted accepted, String how) {
        login = accepted;
        listener.authenticated(ctx.channel());
        io.mailproxy.core.runtime.SessionLog.identify(ctx.channel(), accepted.client().login(), accepted.account().name());
        SmtpPolicy policy = accepted.client().smtp();
        log.info("[{}] client {} logged in ({}), account {}, sender {}", sid, accepted.client().login(), how,
                accepted.account().name(), policy.sender().name().toLowerCase(java.util.Locale.ROOT));
        if (policy.queue() && spool == null) {
            log.warn("[{}] client {} has smtp.queue = true, but the spool is not available:"
                    + " relaying in pass-through mode (250 only after the upstream's 250)", sid, accepted.client().login());
        }
    }

    // ---------------------------------------------------------------- transaction

    private void mail(SmtpCommand cmd) {
        if (state == SmtpState.CONNECTED) {
            error("503 5.5.1 Send EHLO or HELO first");
            return;
        }
        if (state == SmtpState.MAIL) {
            error("503 5.5.1 Nested MAIL command");
            return;
        }
        if (login == null) {
            error("530 5.7.0 Authentication required");
            return;
        }
        junk = 0;
        MailArguments args;
        try {
            args = MailArguments.parse(cmd.argument(), "FROM");
        } catch (IllegalArgumentException e) {
            error("501 5.5.4 Syntax: MAIL FROM:<address> (" + e.getMessage() + ")");
            return;
        }
        SmtpPolicy policy = login.client().smtp();
        long maxSize = policy.maxSize() > 0 ? policy.maxSize() : settings.maxMessageSize();
        for (Map.Entry<String, String> p : args.parameters().entrySet()) {
            String value = p.getValue();
            switch (esmtp ? p.getKey() : "") {
                case "SIZE" -> {
                    if (value == null || !value.matches("\\d{1,18}")) {
                        error("501 5.5.4 Syntax: SIZE=<octets>");
                        return;
                    }
                    if (Long.parseLong(value) > maxSize) {
                        error("552 5.3.4 Message size exceeds fixed maximum message size (" + maxSize + ")");
                        return;
                    }
                }
                case "BODY" -> {
                    if (value == null || !(value.equalsIgnoreCase("7BIT")
                            || (value.equalsIgnoreCase("8BITMIME") && settings.eightBitMime()))) {
                        error("555 5.5.4 Unsupported BODY type");
                        return;
                    }
                }
                case "SMTPUTF8" -> {
                    if (value != null || !settings.smtpUtf8()) {
                        error("555 5.5.4 Unsupported parameter SMTPUTF8" + (value != null ? "=" + value : ""));
                        return;
                    }
                }
                default -> {
                    error("555 5.5.4 Unsupported parameter " + p.getKey());
                    return;
                }
            }
        }
        if (args.needsUtf8() && !args.parameters().containsKey("SMTPUTF8")) {
            error("553 5.6.7 Non-ASCII address requires SMTPUTF8");
            return;
        }
        if (queued()) {
            String size = args.parameters().get("SIZE");
            if (spool.full() || (size != null && spool.usedBytes() + Long.parseLong(size) > spool.maxSize())) {
                log.warn("[{}] the spool is full ({} octets): message refused with 452 4.3.1", sid, spool.usedBytes());
                reply("452 4.3.1 Insufficient system storage");
                return;
            }
            Transaction t = new Transaction(login.account(), args, maxSize);
            t.queued = true;
            t.acquiring = false;
            tx = t;
            state = SmtpState.MAIL;
            reply("250 2.1.0 Sender OK");
            return;
        }
        Transaction t = new Transaction(login.account(), args, maxSize);
        tx = t;
        state = SmtpState.MAIL;
        decoder.pause();
        CompletableFuture<Void> before = previousLease;
        previousLease = t.leaseBack;
        if (before.isDone()) {
            acquire(t);
            return;
        }
        // Bounded, so a lease whose return got lost (an event loop gone at shutdown) cannot stall the session: a
        // return takes one RSET round trip, so a few seconds is long, and well inside a client's MAIL timeout.
        long boundMillis = Math.min(settings.upstreamReplyTimeout().toMillis(), PREVIOUS_LEASE_WAIT_MILLIS);
        ScheduledFuture<?> bound = ctx.executor().schedule(() -> {
            if (!t.acquireStarted) {
                log.debug("[{}] the previous upstream connection is not back in the pool yet; acquiring anyway", sid);
                acquire(t);
            }
        }, boundMillis, TimeUnit.MILLISECONDS);
        before.whenComplete((v, e) -> onLoop(() -> {
            bound.cancel(false);
            acquire(t);
        }));
    }

    /** Asks the pool for the transaction's connection, once. On the event loop. */
    private void acquire(Transaction t) {
        if (t.acquireStarted) {
            return;
        }
        t.acquireStarted = true;
        if (t != tx || t.cancelled || state == SmtpState.CLOSED) {
            t.leaseBack.complete(null);
            return;
        }
        services.pools().acquire(t.account, Protocol.SMTP).whenComplete((lease, failure) -> {
            try {
                ctx.channel().eventLoop().execute(() -> {
                    leased(t, lease, failure);
                    ctx.flush();
                });
            } catch (RejectedExecutionException e) {
                if (lease != null) {
                    lease.releaseUnused();
                }
                t.leaseBack.complete(null);
            }
        });
    }

    private void leased(Transaction t, Lease lease, Throwable failure) {
        if (t != tx || t.cancelled || state == SmtpState.CLOSED) {
            if (lease != null) {
                lease.releaseUnused(); // nothing went upstream on it
            }
            t.leaseBack.complete(null);
            return;
        }
        t.acquiring = false;
        if (failure != null || lease == null) {
            t.leaseBack.complete(null);
            tx = null;
            state = SmtpState.READY;
            send(unavailable(t.account, unwrap(failure)).encode());
            proceed();
            return;
        }
        t.up = UpstreamTransaction.attach(lease, ctx.channel().eventLoop(), new Events(t),
                settings.upstreamReplyTimeout(), sid, t.account.name());
        t.up.returned().whenComplete((v, e) -> t.leaseBack.complete(null));
        MailArguments args = t.mail;
        if (args.parameters().containsKey("SMTPUTF8") && !t.up.has("SMTPUTF8")) {
            t.up.release();
            tx = null;
            state = SmtpState.READY;
            reply("553 5.6.7 The upstream server does not support SMTPUTF8");
            proceed();
            return;
        }
        boolean rewrite = login.client().smtp().sender() == SmtpPolicy.Sender.REWRITE;
        StringBuilder line = new StringBuilder("MAIL FROM:<")
                .append(rewrite ? t.account.from() : args.address()).append('>');
        String size = args.parameters().get("SIZE");
        if (size != null && t.up.has("SIZE")) {
            long declared = Long.parseLong(size);
            if (rewrite) {
                declared += SenderRewriter.sizeGrowth(t.account.from(), settings.headerLimit());
            }
            line.append(" SIZE=").append(declared);
        }
        String body = args.parameters().get("BODY");
        if (body != null && t.up.has("8BITMIME")) {
            line.append(" BODY=").append(body.toUpperCase(java.util.Locale.ROOT));
        }
        if (args.parameters().containsKey("SMTPUTF8")) {
            line.append(" SMTPUTF8");
        }
        t.up.command(line.toString(), r -> {
            if (t != tx) {
                return;
            }
            if (!r.positive()) {
                t.dead = true;
                if (state == SmtpState.MAIL) {
                    state = SmtpState.READY;
                }
                log.info("[{}] upstream refused MAIL FROM:<{}>: {}", sid, args.address(), r.oneLine());
            }
            send(r.encode());
            proceed();
            ctx.flush();
        });
        proceed();
    }

    private SmtpReply unavailable(AccountConfig account, Throwable failure) {
        UpstreamException.Kind kind = failure instanceof UpstreamException ue ? ue.kind() : null;
        String upstreamText = failure instanceof UpstreamException ue ? ue.upstreamReply().orElse(null) : null;
        log.warn("[{}] no upstream SMTP connection for account {}: {}", sid, account.name(), String.valueOf(failure));
        SmtpReply upstreamReply = upstreamText != null && upstreamText.matches("[45]\\d\\d[ -].*")
                ? SmtpReply.of(Integer.parseInt(upstreamText.substring(0, 3)), upstreamText.substring(4)) : null;
        if (upstreamReply != null) {
            // 5.7.139, 5.7.30 at login, 432 4.3.2, 554 5.2.0, 550 5.2.25x: say what the administrator must change
            UpstreamTransaction.explain(upstreamReply, account.name()).ifPresent(hint ->
                    log.warn("[{}] upstream replied {}: {}", sid, upstreamReply.oneLine(), hint));
            if (kind == UpstreamException.Kind.THROTTLED || kind == UpstreamException.Kind.QUOTA) {
                return upstreamReply; // Office 365's own reply reaches the client with its text
            }
        }
        if (kind == UpstreamException.Kind.LIMIT_REACHED || kind == UpstreamException.Kind.THROTTLED
                || kind == UpstreamException.Kind.QUOTA) {
            return SmtpReply.of(451, "4.4.5 Too many connections or messages for this account upstream, try again later");
        }
        if (kind == UpstreamException.Kind.TLS_FAILURE || kind == UpstreamException.Kind.CREDENTIALS_REJECTED
                || kind == UpstreamException.Kind.CREDENTIALS_UNAVAILABLE) {
            return SmtpReply.of(454, "4.7.0 Upstream login or TLS failed, try again later");
        }
        return SmtpReply.of(451, "4.4.1 Upstream server unavailable, try again later");
    }

    private void rcpt(SmtpCommand cmd) {
        if (state != SmtpState.MAIL || tx == null) {
            error("503 5.5.1 Need MAIL command first");
            return;
        }
        MailArguments args;
        try {
            args = MailArguments.parse(cmd.argument(), "TO");
        } catch (IllegalArgumentException e) {
            refuseRcpt("501 5.5.4 Syntax: RCPT TO:<address> (" + e.getMessage() + ")", true);
            return;
        }
        if (args.address().isEmpty()) {
            refuseRcpt("501 5.1.3 Bad recipient address syntax", true);
            return;
        }
        if (!args.parameters().isEmpty()) {
            refuseRcpt("555 5.5.4 Unsupported parameter " + args.parameters().keySet().iterator().next(), true);
            return;
        }
        if (args.needsUtf8() && !tx.mail.parameters().containsKey("SMTPUTF8")) {
            refuseRcpt("553 5.6.7 Non-ASCII address requires SMTPUTF8", true);
            return;
        }
        if (tx.dead) {
            send(UpstreamTransaction.LOST.encode());
            return;
        }
        if (tx.recipients >= settings.maxRecipients()) {
            refuseRcpt("452 4.5.3 Too many recipients", false);
            return;
        }
        if (tx.queued) {
            tx.recipients++;
            tx.accepted++;
            tx.rcpts.add(args.address());
            reply("250 2.1.5 Recipient OK");
            return;
        }
        Transaction t = tx;
        t.recipients++;
        t.up.command("RCPT TO:<" + args.address() + ">", r -> {
            if (t != tx) {
                return;
            }
            if (r.positive()) {
                t.accepted++;
            } else if (r != UpstreamTransaction.LOST) {
                log.info("[{}] upstream refused RCPT TO:<{}>: {}", sid, args.address(), r.oneLine());
            }
            send(r.encode());
            proceed();
            ctx.flush();
        });
    }

    /** Refuses a RCPT here, but after the replies still due to earlier pipelined commands (RFC 2920 order). */
    private void refuseRcpt(String line, boolean isError) {
        Transaction t = tx;
        Runnable answer = () -> {
            if (isError) {
                error(line);
            } else {
                reply(line);
            }
        };
        if (t.up == null || t.outstanding() == 0) {
            answer.run();
            return;
        }
        t.up.reply(SmtpReply.of(Integer.parseInt(line.substring(0, 3)), line.substring(4)), r -> {
            if (t != tx) {
                return;
            }
            answer.run();
            proceed();
            ctx.flush();
        });
    }

    private void data(SmtpCommand cmd) {
        if (state != SmtpState.MAIL || tx == null) {
            error(state == SmtpState.CONNECTED ? "503 5.5.1 Send EHLO or HELO first" : "503 5.5.1 Need MAIL command first");
            return;
        }
        if (!cmd.argument().isEmpty()) {
            error("501 5.5.4 Syntax: DATA");
            return;
        }
        if (tx.dead) {
            endTransaction();
            state = SmtpState.READY;
            send(UpstreamTransaction.LOST.encode());
            return;
        }
        if (tx.accepted == 0) {
            error("554 5.5.1 No valid recipients");
            return;
        }
        if (tx.queued) {
            state = SmtpState.DATA;
            SmtpPolicy policy = login.client().smtp();
            if (policy.sender() == SmtpPolicy.Sender.REWRITE) {
                tx.rewriter = new SenderRewriter(tx.account.from(), policy.originalFrom(), settings.headerLimit());
            }
            tx.writer = spool.newMessage();
            decoder.startData(tx.maxSize);
            reply("354 Start mail input; end with <CRLF>.<CRLF>");
            return;
        }
        Transaction t = tx;
        t.awaiting354 = true;
        t.up.command("DATA", r -> {
            if (t != tx) {
                return;
            }
            t.awaiting354 = false;
            if (r.code() == 354) {
                state = SmtpState.DATA;
                SmtpPolicy policy = login.client().smtp();
                if (policy.sender() == SmtpPolicy.Sender.REWRITE) {
                    t.rewriter = new SenderRewriter(t.account.from(), policy.originalFrom(), settings.headerLimit());
                }
                decoder.startData(t.maxSize);
                send(r.encode());
            } else {
                SmtpReply reply = r;
                if (r.positive()) {
                    // Only 354 lets the message through; a 2xx here is no acceptance of a message the upstream never
                    // got, and must not reach the client as one (DESIGN rule 5). That connection is not reused.
                    log.warn("[{}] upstream answered DATA with {} instead of 354; closing that connection", sid,
                            r.oneLine());
                    t.up.discard();
                    reply = UpstreamTransaction.LOST;
                } else if (r != UpstreamTransaction.LOST) {
                    log.info("[{}] upstream refused DATA: {}", sid, r.oneLine());
                }
                endTransaction();
                state = SmtpState.READY;
                send(reply.encode());
                stopIfShuttingDown();
            }
            proceed();
            ctx.flush();
        });
    }

    private void onChunk(DataChunk chunk) {
        Transaction t = tx;
        if (t == null || t.abortReply != null || (!t.queued && (t.up == null || t.up.isFinished()))) {
            chunk.release();
            return;
        }
        ByteBuf out = chunk.content();
        if (t.rewriter != null) {
            try {
                out = t.rewriter.process(out, ctx.alloc());
            } catch (HeaderBlockTooLargeException e) {
                log.info("[{}] message refused: {}", sid, e.getMessage());
                abortData(t, SmtpReply.of(552, "5.3.4 Message header block too large"));
                return;
            }
        }
        if (t.queued) {
            spoolWrite(t, out);
            return;
        }
        if (out.isReadable()) {
            t.up.data(out);
        } else {
            out.release();
        }
        if (!t.up.writable()) {
            t.backpressure = true;
            decoder.pause();
        }
    }

    /** Appends to the spool file off the event loop; the client is not read while the write is pending. */
    private void spoolWrite(Transaction t, ByteBuf out) {
        if (!out.isReadable()) {
            out.release();
            return;
        }
        t.backpressure = true;
        decoder.pause();
        t.writer.write(out).whenComplete((v, failure) -> onLoop(() -> {
            if (t != tx) {
                return;
            }
            t.backpressure = false;
            if (failure != null) {
                log.error("[{}] writing to the spool failed: {}", sid, unwrap(failure).toString());
                abortData(t, SmtpReply.of(451, "4.3.0 Local error in processing, message not queued"));
            } else if (t.writer.overflowed()) {
                log.warn("[{}] the spool filled up during DATA: message refused with 452 4.3.1", sid);
                abortData(t, SmtpReply.of(452, "4.3.1 Insufficient system storage"));
            }
            proceed();
        }));
    }

    /**
     * Gives up on the message: the upstream connection is dropped without the final dot, and the rest of the
     * message is read and dropped up to the client's CRLF.CRLF, after which the client gets {@code reply}.
     *
     * <p>Reading must go on here. If the framer was paused for backpressure (the chunk that made the message too
     * big, say, found the upstream not writable), nothing else would ever resume it: a dropped upstream never
     * reports "writable" again, and a pending spool write, when it completes, finds the transaction may already be
     * gone. The session would hang until the idle timer closed it, without the client ever getting its reply.
     */
    private void abortData(Transaction t, SmtpReply reply) {
        if (t.abortReply == null) {
            t.abortReply = reply;
        }
        if (t.up != null) {
            t.up.discard(); // never the final dot: the upstream drops what it got
        }
        t.backpressure = false;
        decoder.abortData(DataOutcome.ABORTED);
        proceed();
    }

    private void onDataRefused(DataOutcome outcome) {
        if (tx == null) {
            return;
        }
        SmtpReply reply = refusal(outcome);
        log.info("[{}] message refused while it streamed: {}", sid, reply.oneLine());
        abortData(tx, reply);
    }

    /** The reply to a message the framer refused. */
    private static SmtpReply refusal(DataOutcome outcome) {
        return switch (outcome) {
            case BARE_LINE_ENDING -> SmtpReply.of(550, "5.6.11 Bare CR or LF not allowed");
            case TOO_BIG -> SmtpReply.of(552, "5.3.4 Message too big");
            default -> SmtpReply.of(451, "4.3.0 Message aborted");
        };
    }

    /**
     * The client went on sending a refused message for {@code max-discard} octets: it is not sending a message (a
     * never-ending DATA). Its reply, saying so, then the connection is closed; nothing more of it is read.
     */
    private void onDataAbandoned(DataAbandoned abandoned) {
        Transaction t = tx;
        SmtpReply why = t != null && t.abortReply != null ? t.abortReply : refusal(abandoned.outcome());
        log.warn("[{}] client still sending a refused message {} octets after its refusal ({}); closing", sid,
                abandoned.discarded(), why.oneLine());
        io.mailproxy.core.runtime.SessionLog.outcome(ctx.channel(), "data-abandoned"); // counted by abandonTransaction
        String line = why.oneLine() + "; closing connection";
        if (!(ctx.channel() instanceof io.netty.channel.socket.DuplexChannel duplex)) {
            goodbye(line);
            return;
        }
        // The client is still sending: a close with its data unread would reset the connection, and a reset can
        // destroy the reply before the client reads it. So: the reply, then our half closed (FIN), the rest read and
        // dropped by the framer for a moment, then the close.
        enterClosed();
        ctx.writeAndFlush(ByteBufUtil.writeUtf8(ctx.alloc(), line + "\r\n")).addListener(f -> {
            if (f.isSuccess()) {
                duplex.shutdownOutput();
            } else {
                ctx.close();
            }
        });
        ScheduledFuture<?> linger = ctx.executor().schedule(() -> {
            ctx.close();
        }, ABANDON_LINGER_MILLIS, TimeUnit.MILLISECONDS);
        ctx.channel().closeFuture().addListener(f -> linger.cancel(false));
        decoder.resume(); // keeps reading (and dropping) until the close
    }

    /** How long a never-ending DATA is still read (and dropped) after its reply, before the connection is closed. */
    private static final long ABANDON_LINGER_MILLIS = 2_000;

    private void onDataEnd(DataEnd end) {
        Transaction t = tx;
        if (t == null) {
            state = state == SmtpState.DATA ? SmtpState.READY : state;
            return;
        }
        if (t.abortReply != null || end.outcome() != DataOutcome.COMPLETE) {
            SmtpReply reply = t.abortReply != null ? t.abortReply : SmtpReply.of(451, "4.3.0 Message aborted");
            count("aborted");
            endTransaction();
            state = SmtpState.READY;
            send(reply.encode());
            stopIfShuttingDown();
            return;
        }
        if (t.queued) {
            commitToSpool(t, end.size());
            return;
        }
        if (t.rewriter != null) {
            ByteBuf rest = t.rewriter.finish(ctx.alloc());
            if (rest.isReadable()) {
                t.up.data(rest);
            } else {
                rest.release();
            }
        }
        t.awaitingFinal = true;
        decoder.pause();
        long size = end.size();
        t.up.endData(reply -> {
            if (t != tx) {
                return;
            }
            t.awaitingFinal = false;
            SmtpReply r = reply;
            if (r.positive() && r.code() / 100 != 2) {
                // a 3xx to the final dot accepts nothing; the connection is in an unknown state
                log.warn("[{}] upstream answered the final dot with {}; closing that connection", sid, r.oneLine());
                t.up.discard();
                r = UpstreamTransaction.LOST;
            }
            count(r.code() == 250 ? "accepted" : r == UpstreamTransaction.LOST ? "upstream-lost" : "refused");
            if (r.code() == 250) {
                log.info("[{}] message of {} octets for {} recipient(s) accepted by the upstream: {}", sid, size,
                        t.accepted, r.oneLine());
            } else if (r != UpstreamTransaction.LOST) {
                log.info("[{}] upstream refused the message: {}", sid, r.oneLine());
            }
            endTransaction();
            state = SmtpState.READY;
            send(r.encode());
            stopIfShuttingDown();
            proceed();
            ctx.flush();
        });
    }

    /**
     * Queue mode, after the client's CRLF.CRLF: the rest of the rewritten header (if any) is written, then the
     * message and its envelope are fsynced; the 250 comes only after that (DESIGN rule 5).
     */
    private void commitToSpool(Transaction t, long size) {
        if (t.rewriter != null) {
            ByteBuf rest = t.rewriter.finish(ctx.alloc());
            if (rest.isReadable()) {
                t.writer.write(rest);
            } else {
                rest.release();
            }
        }
        t.awaitingFinal = true;
        t.committing = true;
        decoder.pause();
        boolean rewrite = login.client().smtp().sender() == SmtpPolicy.Sender.REWRITE;
        List<String> parameters = new ArrayList<>();
        String body = t.mail.parameters().get("BODY");
        if (body != null) {
            parameters.add("BODY=" + body.toUpperCase(java.util.Locale.ROOT));
        }
        if (t.mail.parameters().containsKey("SMTPUTF8")) {
            parameters.add("SMTPUTF8");
        }
        String client = login.client().login();
        t.writer.commit(t.account.name(), client, rewrite ? t.account.from() : t.mail.address(), t.mail.address(),
                parameters, t.rcpts).whenComplete((env, failure) -> onLoop(() -> {
                    SmtpReply r;
                    if (failure == null) {
                        count("queued");
                        log.info("[{}] message of {} octets for {} recipient(s) queued as {}", sid, size,
                                t.rcpts.size(), env.id());
                        r = SmtpReply.of(250, "2.0.0 Queued as " + env.id());
                    } else if (t.writer.overflowed()) {
                        r = SmtpReply.of(452, "4.3.1 Insufficient system storage");
                    } else {
                        log.error("[{}] the message could not be queued: {}", sid, unwrap(failure).toString());
                        r = SmtpReply.of(451, "4.3.0 Local error in processing, message not queued");
                    }
                    if (t != tx) {
                        if (failure == null) {
                            log.info("[{}] client left before the 250 for {}; the message stays queued", sid, env.id());
                        }
                        return;
                    }
                    t.awaitingFinal = false;
                    endTransaction();
                    state = SmtpState.READY;
                    send(r.encode());
                    stopIfShuttingDown();
                    proceed();
                }));
    }

    /** This login's messages go to the spool. */
    private boolean queued() {
        return spool != null && login != null && login.client().smtp().queue();
    }

    /** Ends the transaction after a final reply (or RSET): the connection goes back to the pool. */
    private void endTransaction() {
        Transaction t = tx;
        if (t == null) {
            return;
        }
        tx = null;
        if (state == SmtpState.MAIL || state == SmtpState.DATA) {
            state = SmtpState.READY;
        }
        if (t.queued) {
            if (t.writer != null && !t.committing) {
                t.writer.abort();
            }
            return;
        }
        if (t.acquiring) {
            t.cancelled = true;
        } else if (t.up != null) {
            if (t.outstanding() > 0 || decoder.inData()) {
                t.up.discard();
            } else {
                t.up.release();
            }
        }
    }

    /** The client left or the session closes: nothing half-sent may be pooled or completed. */
    private void abandonTransaction() {
        Transaction t = tx;
        if (t == null) {
            return;
        }
        tx = null;
        if (t.queued) {
            if (t.writer != null && !t.committing) {
                log.info("[{}] client left in the middle of a message; nothing of it is queued", sid);
                count("aborted");
                t.writer.abort();
            }
            return;
        }
        if (t.acquiring) {
            t.cancelled = true;
        } else if (t.up != null) {
            if (t.outstanding() > 0 || t.awaitingFinal || decoder.inData() || state == SmtpState.DATA) {
                if (decoder.inData() || t.awaitingFinal) {
                    count("aborted");
                    log.info("[{}] client left in the middle of a message; the upstream connection is closed"
                            + " without the final dot", sid);
                }
                t.up.discard();
            } else {
                t.up.release();
            }
        }
    }

    /** Upstream connection events for one transaction. */
    private final class Events implements UpstreamTransaction.Events {
        private final Transaction t;

        Events(Transaction t) {
            this.t = t;
        }

        @Override
        public void writable() {
            if (t == tx && t.backpressure) {
                t.backpressure = false;
                proceed();
                ctx.flush();
            }
        }

        @Override
        public void lost(String reason) {
            if (t != tx) {
                return;
            }
            t.dead = true;
            if (decoder.inData() && !t.awaitingFinal) {
                // the client is still sending: its final reply comes after its CRLF.CRLF
                abortData(t, UpstreamTransaction.LOST);
            }
            t.backpressure = false;
            proceed();
            ctx.flush();
        }
    }

    // ---------------------------------------------------------------- replies, timers, shutdown

    private void count(String result) {
        services.meters().counter("mailproxy.smtp.messages", "result", result).increment();
    }

    /** One reply line; client text echoed in it (a bad parameter, say) loses its control characters. */
    private void reply(String line) {
        send(line.replaceAll("\\p{Cc}", "?") + "\r\n");
    }

    private void error(String line) {
        reply(line);
        if (++errors >= MAX_ERRORS) {
            log.info("[{}] too many errors; closing", sid);
            goodbye("421 4.7.0 " + settings.hostname() + " Too many errors, closing connection");
        }
    }

    /** A reply to a command that moves nothing forward; a flood of them ends like a flood of errors. */
    private void junk(String line) {
        if (++junk > JUNK_LIMIT) {
            error(line);
        } else {
            reply(line);
        }
    }

    private void send(String text) {
        if (state == SmtpState.CLOSED && !text.startsWith("221") && !text.startsWith("421")) {
            return;
        }
        ctx.write(ByteBufUtil.writeUtf8(ctx.alloc(), text));
    }

    private void goodbye(String line) {
        if (state == SmtpState.CLOSED) {
            return;
        }
        enterClosed();
        decoder.pause();
        io.netty.channel.ChannelFuture sent = ctx.writeAndFlush(ByteBufUtil.writeUtf8(ctx.alloc(), line + "\r\n"));
        sent.addListener(ChannelFutureListener.CLOSE);
        if (!sent.isDone()) {
            // A client that does not read its replies never lets this one leave, and the close waits for it: like
            // Postfix's smtpd_timeout, sending a reply gets the same time limit as waiting for a command.
            long millis = (login == null ? settings.preLoginTimeout() : settings.idleTimeout()).toMillis();
            ScheduledFuture<?> bound = ctx.executor().schedule(() -> {
                if (ctx.channel().isOpen()) {
                    log.info("[{}] the client did not read the goodbye within {} ms; closing", sid, millis);
                    ctx.close();
                }
            }, millis, TimeUnit.MILLISECONDS);
            ctx.channel().closeFuture().addListener(f -> bound.cancel(false));
        }
    }

    /** No more commands or transactions: what a goodbye starts with. */
    private void enterClosed() {
        abandonTransaction();
        state = SmtpState.CLOSED;
        deferred = null;
        cancelIdle();
    }

    private boolean safeToStop() {
        return !decoder.inData() && (tx == null || !tx.awaitingFinal) && state != SmtpState.DATA;
    }

    private void stopIfShuttingDown() {
        if (shuttingDown) {
            goodbye("421 4.3.2 " + settings.hostname() + " Service shutting down");
        }
    }

    private void armIdle() {
        cancelIdle();
        if (state == SmtpState.CLOSED) {
            return;
        }
        long millis = (login == null ? settings.preLoginTimeout() : settings.idleTimeout()).toMillis();
        idleTimer = ctx.executor().schedule(this::idleExpired, millis, TimeUnit.MILLISECONDS);
    }

    private void cancelIdle() {
        if (idleTimer != null) {
            idleTimer.cancel(false);
            idleTimer = null;
        }
    }

    private void idleExpired() {
        idleTimer = null;
        if (state == SmtpState.CLOSED) {
            return;
        }
        boolean waitingForOthers = authPending || (tx != null && (tx.acquiring || tx.awaiting354 || tx.awaitingFinal
                || tx.backpressure || tx.outstanding() > 0));
        if (waitingForOthers || dataActivity) {
            dataActivity = false;
            armIdle();
            return;
        }
        log.info("[{}] client idle too long ({}); closing", sid, login == null ? "before login" : "after login");
        goodbye("421 4.4.2 " + settings.hostname() + " Timeout waiting for client input, closing connection");
    }

    private void onLoop(Runnable task) {
        try {
            ctx.channel().eventLoop().execute(() -> {
                task.run();
                ctx.flush();
            });
        } catch (RejectedExecutionException e) {
            log.debug("[{}] event loop gone", sid);
        }
    }

    private static Throwable unwrap(Throwable t) {
        return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    }

    private static String printable(String login) {
        String s = login.length() > 64 ? login.substring(0, 64) + "..." : login;
        return s.replaceAll("[\\p{Cntrl}]", "?");
    }
}
