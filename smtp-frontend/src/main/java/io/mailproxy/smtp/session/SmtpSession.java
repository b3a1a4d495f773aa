package io.mailproxy.smtp.session;

import io.mailproxy.core.identity.LocalLogin;
import io.mailproxy.core.sasl.ServerMechanism;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.spi.EvictionEvent;
import io.mailproxy.core.spi.ListenerContext;
import io.mailproxy.core.spi.ShutdownEvent;
import io.mailproxy.smtp.codec.MailArguments;
import io.mailproxy.smtp.codec.SmtpCommand;
import io.mailproxy.smtp.codec.SmtpInbound.CommandLine;
import io.mailproxy.smtp.codec.SmtpInbound.DataAbandoned;
import io.mailproxy.smtp.codec.SmtpInbound.DataChunk;
import io.mailproxy.smtp.codec.SmtpInbound.DataEnd;
import io.mailproxy.smtp.codec.SmtpInbound.DataRefused;
import io.mailproxy.smtp.codec.SmtpInbound.LineTooLong;
import io.mailproxy.smtp.codec.SmtpServerDecoder;
import io.mailproxy.smtp.graph.GraphSubmission;
import io.mailproxy.smtp.queue.Spool;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client's SMTP submission session: RFC 5321 command order, AUTH (RFC 4954), pipelining (RFC 2920), STARTTLS
 * (RFC 3207). Each command is a {@link Command} that says in which {@link SmtpState states} it is accepted; each
 * transaction is a {@link Transaction} whose message goes to a {@link MessageSink} (relayed over a leased upstream
 * connection, or stored in the spool for a client with {@code smtp.queue = true}).
 *
 * <p>Everything runs on the client channel's event loop. The session pauses the {@link SmtpServerDecoder} whenever
 * it waits (for the authenticator, the sink, an upstream reply, a writable upstream); a pipelined command that must
 * wait is kept in {@link #deferred} and handled when the wait ends, so replies always come in command order.
 */
public final class SmtpSession extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(SmtpSession.class);
    private static final int MAX_ERRORS = 20;
    /** NOOP, RSET, VRFY and HELP a client may send without a MAIL before each one counts as an error (Postfix: 100). */
    private static final int JUNK_LIMIT = 100;

    final CoreServices services;
    final ListenerContext listener;
    final SmtpSettings settings;
    final SmtpServerDecoder decoder;
    final MessageSinks sinks;

    private ChannelHandlerContext ctx;
    private String sid = "-";
    private SmtpState state = SmtpState.CONNECTED;
    private SessionWait wait = SessionWait.NOTHING;
    private boolean started;
    private boolean esmtp;
    private LocalLogin.Accepted login;
    private ServerMechanism sasl;   // the SASL exchange while the state is AUTH
    private Transaction tx;
    private String deferred;
    private boolean shuttingDown;
    private int errors;
    private int loginFailures;
    private int junk;
    private final IdleTimer idle = new IdleTimer(this);
    private final LoginDeadline loginDeadline = new LoginDeadline(this);

    public SmtpSession(CoreServices services, ListenerContext listener, SmtpSettings settings, SmtpServerDecoder decoder) {
        this(services, listener, settings, decoder, null);
    }

    /** @param spool where clients with {@code smtp.queue = true} store their messages (null: pass-through only) */
    public SmtpSession(CoreServices services, ListenerContext listener, SmtpSettings settings, SmtpServerDecoder decoder,
                       Spool spool) {
        this(services, listener, settings, decoder, spool, new GraphSubmission(services::graph,
                services.blockingExecutor(), io.mailproxy.smtp.graph.GraphSplitter.LARGE_MESSAGE,
                GraphSubmission.workDirectory(services.config().stateDir()), settings.headerLimit()),
                GraphSubmission.workDirectory(services.config().stateDir()));
    }

    /**
     * @param graph        sends the messages of accounts with {@code send-with = graph} in pass-through
     * @param graphWorkDir where those messages wait (temporary files) while Graph is asked
     */
    public SmtpSession(CoreServices services, ListenerContext listener, SmtpSettings settings, SmtpServerDecoder decoder,
                       Spool spool, GraphSubmission graph, java.nio.file.Path graphWorkDir) {
        this.services = services;
        this.listener = listener;
        this.settings = settings;
        this.decoder = decoder;
        this.sinks = new MessageSinks(services, settings, spool, graph, graphWorkDir);
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
        listener.fixedClient().ifPresent(name -> AuthCommand.loginFixed(this, name));
        send(hosted(SmtpReplies.GREETING) + "\r\n");
        ctx.flush();
        idle.arm();
        if (login == null) {   // after the idle timer: a client silent from the start still gets the idle goodbye
            loginDeadline.arm();
        }
        decoder.resume();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (state == SmtpState.CLOSED) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof CommandLine line) {
            idle.arm();
            onLine(line.text());
        } else if (msg instanceof DataChunk chunk) {
            idle.activity();
            DataCommand.chunk(this, chunk);
        } else if (msg instanceof DataRefused refused) {
            DataCommand.refused(this, refused.outcome());
        } else if (msg instanceof DataAbandoned abandoned) {
            DataCommand.abandoned(this, abandoned);
        } else if (msg instanceof DataEnd end) {
            idle.arm();
            DataCommand.end(this, end);
        } else if (msg instanceof LineTooLong) {
            idle.arm();
            if (state == SmtpState.AUTH) {
                sasl(null);
            }
            error(SmtpReplies.LINE_TOO_LONG);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (state == SmtpState.DATA) {
            // bytes of a message arrived, maybe only into the framer's discard of a refused one (which passes the
            // session nothing until the end): the client is sending, not idle
            idle.activity();
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
        idle.cancel();
        loginDeadline.cancel();
        abandonTransaction();
        ctx.fireChannelInactive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ShutdownEvent) {
            shuttingDown = true;
            if (state != SmtpState.CLOSED && safeToStop()) {
                goodbye(hosted(SmtpReplies.SHUTTING_DOWN));
            }
            return;
        }
        if (evt instanceof EvictionEvent) {
            loginDeadline.evict();
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("[{}] client connection error: {}", sid, cause.toString());
        if (state != SmtpState.CLOSED) {
            goodbye(hosted(SmtpReplies.LOCAL_ERROR));
        }
    }

    // ---------------------------------------------------------------- commands and the pipelining gate

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
    void proceed() {
        if (state == SmtpState.CLOSED) {
            return;
        }
        if (tx != null && tx.phase == Transaction.Phase.DEAD && tx.outstanding() == 0 && state == SmtpState.READY) {
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
        return state == SmtpState.CLOSED || wait != SessionWait.NOTHING || (tx != null && tx.blocking());
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
        return !(rcpt && state == SmtpState.MAIL && tx.phase != Transaction.Phase.DEAD && tx.sink.pipelining());
    }

    private void handleLine(String line) {
        if (shuttingDown && safeToStop()) {
            goodbye(hosted(SmtpReplies.SHUTTING_DOWN));
            return;
        }
        if (state == SmtpState.AUTH) {
            AuthCommand.respond(this, sasl, line);
            return;
        }
        SmtpCommand cmd = SmtpCommand.parse(line);
        Command command = Command.of(cmd.verb());
        String refusal = command.refusal(state);
        if (refusal != null) {
            error(refusal);
            return;
        }
        command.handle(this, cmd);
    }

    // ---------------------------------------------------------------- transaction

    /** Starts a transaction after a valid MAIL; its sink answers the MAIL. */
    Transaction begin(MailArguments mail, long maxSize) {
        Transaction t = new Transaction(login.account(), mail, maxSize);
        t.sink = sinks.open(t, login, new SinkEvents(this, t));
        tx = t;
        state = SmtpState.MAIL;
        return t;
    }

    /** Ends the transaction after a final reply (or RSET): the sink lets go of it (the connection goes back). */
    void endTransaction() {
        Transaction t = tx;
        if (t == null) {
            return;
        }
        tx = null;
        if (state == SmtpState.MAIL || state == SmtpState.DATA) {
            state = SmtpState.READY;
        }
        t.sink.close(decoder.inData());
    }

    /** The client left or the session closes: nothing half-sent may be pooled or completed. */
    private void abandonTransaction() {
        Transaction t = tx;
        if (t == null) {
            return;
        }
        tx = null;
        t.sink.abandon(decoder.inData());
    }

    // ---------------------------------------------------------------- what commands use

    ChannelHandlerContext ctx() {
        return ctx;
    }

    String sid() {
        return sid;
    }

    SmtpState state() {
        return state;
    }

    void state(SmtpState next) {
        state = next;
    }

    void waitFor(SessionWait what) {
        wait = what;
    }

    SessionWait waiting() {
        return wait;
    }

    /** One more failed login on this connection: how many so far. */
    int countLoginFailure() {
        return ++loginFailures;
    }

    Transaction tx() {
        return tx;
    }

    /** The transaction a RCPT or DATA belongs to; without one, the command is refused and this is null. */
    Transaction txOrRefuse() {
        if (tx == null) {
            error(SmtpReplies.NEED_MAIL);
        }
        return tx;
    }

    boolean esmtp() {
        return esmtp;
    }

    void esmtp(boolean extended) {
        esmtp = extended;
    }

    LocalLogin.Accepted login() {
        return login;
    }

    void login(LocalLogin.Accepted accepted) {
        login = accepted;
        loginDeadline.cancel();
        idle.arm();   // idle-timeout from now on, not what was left of the pre-login one
    }

    /** A SASL exchange starts ({@link SmtpState#AUTH}), or with null ends ({@link SmtpState#READY}). */
    void sasl(ServerMechanism mechanism) {
        sasl = mechanism;
        state = mechanism == null ? SmtpState.READY : SmtpState.AUTH;
    }

    /** A valid MAIL: the client is doing something, its NOOPs and RSETs count afresh. */
    void resetJunk() {
        junk = 0;
    }

    // ---------------------------------------------------------------- replies, goodbyes, timers, shutdown

    void count(String result) {
        services.meters().counter("mailproxy.smtp.messages", "result", result).increment();
    }

    /** One reply line; client text echoed in it (a bad parameter, say) loses its control characters. */
    void reply(String line) {
        send(line.replaceAll("\\p{Cc}", "?") + "\r\n");
    }

    void error(String line) {
        reply(line);
        if (++errors >= MAX_ERRORS) {
            log.info("[{}] too many errors; closing", sid);
            goodbye(hosted(SmtpReplies.TOO_MANY_ERRORS));
        }
    }

    /** A reply to a command that moves nothing forward; a flood of them ends like a flood of errors. */
    void junk(String line) {
        if (++junk > JUNK_LIMIT) {
            error(line);
        } else {
            reply(line);
        }
    }

    /** A reply that names this host. */
    String hosted(String template) {
        return SmtpReplies.format(template, settings.hostname());
    }

    void send(String text) {
        if (state == SmtpState.CLOSED && !text.startsWith("221") && !text.startsWith("421")) {
            return;
        }
        ctx.write(ByteBufUtil.writeUtf8(ctx.alloc(), text));
    }

    void goodbye(String line) {
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
            long millis = idle.millis();
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
    void enterClosed() {
        abandonTransaction();
        state = SmtpState.CLOSED;
        deferred = null;
        idle.cancel();
        loginDeadline.cancel();
    }

    private boolean safeToStop() {
        return !decoder.inData() && (tx == null || tx.phase != Transaction.Phase.AWAITING_FINAL)
                && state != SmtpState.DATA;
    }

    void stopIfShuttingDown() {
        if (shuttingDown) {
            goodbye(hosted(SmtpReplies.SHUTTING_DOWN));
        }
    }

    void onLoop(Runnable task) {
        try {
            ctx.channel().eventLoop().execute(() -> {
                task.run();
                ctx.flush();
            });
        } catch (RejectedExecutionException e) {
            log.debug("[{}] event loop gone", sid);
        }
    }

    static Throwable unwrap(Throwable t) {
        return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    }
}
