package io.mailproxy.pop3.session;

import io.mailproxy.core.runtime.ClientAddress;
import io.mailproxy.core.runtime.SessionLog;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.identity.LocalLogin;
import io.mailproxy.core.sasl.ServerMechanism;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.spi.ListenerContext;
import io.mailproxy.core.spi.EvictionEvent;
import io.mailproxy.core.spi.ShutdownEvent;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.pop3.Pop3Settings;
import io.mailproxy.pop3.codec.Pop3Command;
import io.mailproxy.pop3.codec.Pop3CommandLine;
import io.mailproxy.pop3.codec.Pop3Data;
import io.mailproxy.pop3.codec.Pop3OversizeLine;
import io.mailproxy.pop3.codec.Pop3Request;
import io.mailproxy.pop3.codec.Pop3Response;
import io.mailproxy.pop3.upstream.Pop3Maildrop;
import io.mailproxy.pop3.upstream.Pop3Maildrops;
import io.mailproxy.pop3.upstream.Pop3ReplyException;
import io.micrometer.core.instrument.Counter;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One POP3 session. Commands are handled strictly in order (RFC 2449 PIPELINING): the decoder's lines queue up, and
 * the next is taken only when the previous reply is complete; the client is read again only when the queue is empty
 * and the channel writable (AUTO_READ is off). The AUTHORIZATION state is served here; the TRANSACTION state hands
 * each command to the {@link Pop3Maildrop}; QUIT enters UPDATE, where the maildrop applies deletions.
 */
final class Pop3SessionHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(Pop3SessionHandler.class);

    static final String GREETING = "mailproxy POP3 ready";
    static final String AUTH_FAILED_TEXT = "[AUTH] Authentication failed";
    static final Pop3Response AUTH_FAILED = Pop3Response.err(AUTH_FAILED_TEXT);
    /** What CAPA's SASL line and a bare AUTH list, and AUTH accepts. */
    private static final List<String> MECHANISMS = List.of(ServerMechanism.PLAIN);

    private final CoreServices services;
    private final ListenerContext listener;
    private final Pop3Settings settings;
    private final ArrayDeque<Pop3Request> queue = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private String sessionId = "-";
    private Pop3State state = Pop3State.AUTHORIZATION;
    private boolean busy;
    private boolean draining;
    private boolean closing;
    private java.util.concurrent.ScheduledFuture<?> loginTimer;
    private boolean shuttingDown;
    /** AUTH waiting for the client's response to a challenge. */
    private ServerMechanism sasl;
    /** Between STLS and the TLS handler being in place: every plaintext byte is dropped (RFC 2595 section 4). */
    private boolean awaitingTls;
    private String user;
    private int overlong;
    private int loginFailures;
    private Pop3Maildrop maildrop;

    Pop3SessionHandler(CoreServices services, ListenerContext listener, Pop3Settings settings) {
        this.services = services;
        this.listener = listener;
        this.settings = settings;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        sessionId = listener.sessionId(ctx.channel());
        loginTimer = ctx.executor().schedule(this::loginTimedOut, settings.loginTimeout().toMillis(),
                java.util.concurrent.TimeUnit.MILLISECONDS);
        ctx.writeAndFlush(Pop3Response.ok(GREETING));
        ctx.read();
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof Pop3Request request)) {
            // plaintext left in the old decoder when STLS replaced it: discarded (RFC 2595 section 4)
            ReferenceCountUtil.release(msg);
            return;
        }
        if (!closing && !awaitingTls) {
            queue.add(request);
            drain();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
            drain();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closing = true;
        if (loginTimer != null) {
            loginTimer.cancel(false);
        }
        queue.clear();
        if (maildrop != null) {
            // no QUIT: nothing is applied upstream (RFC 1939 section 6)
            maildrop.abandon();
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent) {
            if (closing) {
                return;
            }
            log.info("{} POP3 session idle for {}, closing without UPDATE", sessionId, settings.idleTimeout());
            abandon();
            if (busy) {
                closing = true;
                ctx.close();
            } else {
                SessionLog.outcome(ctx.channel(), "idle-timeout");
                closeWith(Pop3Response.err("Autologout; idle for too long"));
            }
        } else if (evt == EvictionEvent.INSTANCE) {
            if (!closing && state == Pop3State.AUTHORIZATION) {
                log.info("{} POP3 client not logged in; closed to make room for a new connection", sessionId);
                closeWith(Pop3Response.err("[SYS/TEMP] Too many connections not yet logged in"));
            }
        } else if (evt == ShutdownEvent.INSTANCE) {
            shuttingDown = true;
            if (!busy) {
                goodbye();
            }
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof IOException) {
            log.debug("{} POP3 client connection failed: {}", sessionId, cause.toString());
        } else {
            log.warn("{} POP3 session failed, closing", sessionId, cause);
        }
        closing = true;
        ctx.close();
    }

    private void drain() {
        if (draining) {
            return;
        }
        draining = true;
        try {
            while (!busy && !closing && !queue.isEmpty() && ctx.channel().isWritable()) {
                handle(queue.poll());
            }
        } finally {
            draining = false;
        }
        if (!busy && !closing && queue.isEmpty()) {
            if (shuttingDown) {
                goodbye();
            } else {
                ctx.read();
            }
        }
    }

    /** The end of an asynchronous command: take the next one. Event loop only. */
    private void finish() {
        busy = false;
        drain();
    }

    private void handle(Pop3Request request) {
        if (request instanceof Pop3OversizeLine oversize) {
            overlong++;
            sasl = null;
            log.info("{} POP3 command line of {}{} octets over the limit of {}", sessionId,
                    oversize.abusive() ? "at least " : "", oversize.octets(), settings.maxLineLength());
            if (oversize.abusive() || overlong >= settings.maxOverlongLines()) {
                closeWith(Pop3Response.err("Command line too long, closing"));
            } else {
                reply(Pop3Response.err("Command line too long"));
            }
            return;
        }
        Pop3CommandLine line = (Pop3CommandLine) request;
        if (sasl != null) {
            ServerMechanism mechanism = sasl;
            sasl = null;
            saslResponse(mechanism, line.text());
            return;
        }
        switch (state) {
            case AUTHORIZATION -> authorization(line);
            case TRANSACTION -> transaction(line);
            case UPDATE -> { }
        }
    }

    // ---- AUTHORIZATION --------------------------------------------------------------------------------------------

    private void authorization(Pop3CommandLine line) {
        switch (line.verb()) {
            case "CAPA" -> capa(authorizationCapabilities());
            case "USER" -> {
                String name = line.argument().strip();
                if (name.isEmpty()) {
                    reply(Pop3Response.err("Syntax: USER name"));
                } else {
                    user = utf8(name);
                    reply(Pop3Response.ok("Send the password"));
                }
            }
            case "PASS" -> {
                if (user == null) {
                    reply(Pop3Response.err("Send USER first"));
                    return;
                }
                String login = user;
                user = null;
                login(login, line.argument().getBytes(StandardCharsets.ISO_8859_1));
            }
            case "AUTH" -> auth(line.argument());
            case "STLS" -> stls();
            case "QUIT" -> {
                SessionLog.outcome(ctx.channel(), "quit");
                closeWith(Pop3Response.ok("mailproxy POP3 signing off"));
            }
            case "APOP" -> reply(Pop3Response.err("APOP is not supported, use USER/PASS or AUTH PLAIN"));
            default -> {
                user = null;
                reply(isTransactionVerb(line.verb())
                        ? Pop3Response.err("Log in first")
                        : Pop3Response.err("Unknown command"));
            }
        }
    }

    private List<String> authorizationCapabilities() {
        List<String> caps = new ArrayList<>(List.of("USER", "UIDL", "TOP", "RESP-CODES", "AUTH-RESP-CODE",
                "PIPELINING", "SASL " + String.join(" ", MECHANISMS)));
        if (listener.startTlsAvailable() && !listener.isSecure(ctx.channel())) {
            caps.add("STLS");
        }
        caps.add("IMPLEMENTATION " + settings.implementation());
        return caps;
    }

    private void auth(String argument) {
        String[] args = argument.strip().isEmpty() ? new String[0] : argument.strip().split(" +");
        if (args.length == 0) {
            // RFC 1734 style probe used by some clients: list the mechanisms
            multiLine("", MECHANISMS);
            return;
        }
        ServerMechanism mechanism = ServerMechanism.forName(args[0], MECHANISMS);
        if (mechanism == null) {
            reply(Pop3Response.err("Unsupported SASL mechanism"));
            return;
        }
        if (args.length > 2) {
            reply(Pop3Response.err("Syntax: AUTH PLAIN [initial-response]"));
            return;
        }
        if (args.length == 2 && args[1].equals("*")) {
            reply(Pop3Response.err("Authentication cancelled"));
            return;
        }
        saslStep(mechanism, mechanism.start(args.length == 2 ? args[1] : null));
    }

    /** The client's response to a challenge, or {@code *} to cancel (RFC 5034 section 4). */
    private void saslResponse(ServerMechanism mechanism, String response) {
        if (response.equals("*")) {
            reply(Pop3Response.err("Authentication cancelled"));
        } else {
            saslStep(mechanism, mechanism.next(response));
        }
    }

    private void saslStep(ServerMechanism mechanism, ServerMechanism.Step step) {
        if (step instanceof ServerMechanism.Challenge challenge) {
            sasl = mechanism;
            reply(Pop3Response.continuation(challenge.base64()));
        } else if (step instanceof ServerMechanism.Malformed malformed) {
            log.info("{} POP3 AUTH {} response malformed: {}", sessionId, mechanism.name(), malformed.why());
            reply(Pop3Response.err((malformed.notBase64() ? "Invalid base64 in AUTH " : "Malformed AUTH ")
                    + mechanism.name() + " response"));
        } else if (step instanceof ServerMechanism.Refused refused) {
            log.info("{} POP3 AUTH {} refused: {}", sessionId, mechanism.name(), refused.why());
            reply(AUTH_FAILED);
        } else {
            ServerMechanism.Credentials credentials = (ServerMechanism.Credentials) step;
            login(credentials.login(), credentials.password());
        }
    }

    private void stls() {
        if (!listener.startTlsAvailable() || listener.isSecure(ctx.channel())) {
            reply(Pop3Response.err("STLS not available"));
            return;
        }
        Optional<SslHandler> ssl = listener.newServerSslHandler(ctx.channel());
        if (ssl.isEmpty()) {
            reply(Pop3Response.err("STLS not available"));
            return;
        }
        busy = true;
        user = null;
        // commands pipelined after STLS were sent in plaintext: never act on them (RFC 2595 section 4)
        queue.clear();
        awaitingTls = true;
        ctx.writeAndFlush(Pop3Response.ok("Begin TLS negotiation")).addListener(f -> {
            if (!f.isSuccess()) {
                ReferenceCountUtil.release(ssl.get().engine());
                return;
            }
            // a separate task: the rest of the current read (plaintext sent after STLS) is decoded and dropped first;
            // AUTO_READ is off, so nothing more is read before the SslHandler is in place
            ctx.executor().execute(() -> {
                ctx.pipeline().addFirst("tls", ssl.get());
                // the old decoder hands its partial plaintext line on as a ByteBuf, which channelRead drops
                ctx.pipeline().replace(Pop3Frontend.DECODER, Pop3Frontend.DECODER, Pop3Frontend.newDecoder(settings));
                awaitingTls = false;
                finish();
            });
        });
    }

    private void login(String login, byte[] password) {
        busy = true;
        CompletableFuture<LocalLogin> result;
        try {
            result = services.authenticator().authenticate(login, password, Protocol.POP3,
                    ClientAddress.of(ctx.channel()));
        } catch (RuntimeException e) {
            result = CompletableFuture.failedFuture(e);
        }
        result.whenComplete((outcome, error) -> {
            Arrays.fill(password, (byte) 0);
            ctx.channel().eventLoop().execute(() -> loggedIn(login, outcome, error));
        });
    }

    /** {@code mailproxy.pop3.logins{result=ok|rejected|throttled|error|in_use|unavailable|refused}}. */
    private void countLogin(String result) {
        Counter.builder("mailproxy.pop3.logins").description("POP3 logins by outcome").tag("result", result)
                .register(services.meters()).increment();
    }

    private void loggedIn(String login, LocalLogin outcome, Throwable error) {
        if (closing) {
            return;
        }
        if (error != null) {
            log.warn("{} POP3 login of {}: local authentication failed to run: {}", sessionId, SessionLog.printable(login), unwrap(error).toString());
            countLogin("error");
            reply(Pop3Response.err("[SYS/TEMP] Authentication service unavailable, try again later"));
            finish();
            return;
        }
        if (outcome instanceof LocalLogin.Throttled throttled) {
            // LocalIdentities logs the penalty once per name and interval: no line per attempt here
            log.debug("{} POP3 login of {} slowed down: {}", sessionId, SessionLog.printable(login), throttled.reason());
            countLogin("throttled");
            loginFailed("[SYS/TEMP] Login slowed down after repeated failures, try again later");
            return;
        }
        if (!(outcome instanceof LocalLogin.Accepted accepted) || !accepted.client().allows(Protocol.POP3)) {
            log.info("{} POP3 login failed for {}: {}", sessionId, SessionLog.printable(login),
                    outcome instanceof LocalLogin.Rejected r ? r.reason() : "client may not use POP3");
            countLogin("rejected");
            loginFailed(AUTH_FAILED_TEXT);
            return;
        }
        log.info("{} POP3 client {} logged in; account {}, source {}", sessionId, login, accepted.account().name(),
                accepted.client().pop3().source().name().toLowerCase(java.util.Locale.ROOT));
        listener.authenticated(ctx.channel());
        SessionLog.identify(ctx.channel(), login, accepted.account().name());
        CompletableFuture<Pop3Maildrop> opened;
        try {
            opened = Pop3Maildrops.open(services, accepted, ctx.channel(), settings, sessionId);
        } catch (RuntimeException e) {
            opened = CompletableFuture.failedFuture(e);
        }
        opened.whenComplete((md, e) -> ctx.channel().eventLoop().execute(() -> maildropOpened(accepted, md, e)));
    }

    /** A failed login's reply; at {@code limits.max-login-failures} the last one (OpenSSH's MaxAuthTries). */
    private void loginFailed(String text) {
        if (++loginFailures < services.authenticator().maxLoginFailures()) {
            reply(Pop3Response.err(text));
            finish();
            return;
        }
        log.info("{} POP3 connection closed after {} failed logins", sessionId, loginFailures);
        SessionLog.outcome(ctx.channel(), "login-failures");
        closeWith(Pop3Response.err(text + "; too many failed logins, closing"));
    }

    private void maildropOpened(LocalLogin.Accepted login, Pop3Maildrop opened, Throwable error) {
        if (closing) {
            if (opened != null) {
                opened.abandon();
            }
            return;
        }
        if (error != null) {
            reply(upstreamFailure(login.account().name(), unwrap(error)));
            finish();
            return;
        }
        countLogin("ok");
        maildrop = opened;
        state = Pop3State.TRANSACTION;
        if (loginTimer != null) {
            loginTimer.cancel(false);
        }
        reply(Pop3Response.ok(opened.greeting()));
        finish();
    }

    /** DESIGN's errors table: the reply for a failure to reach the account's mailbox, and its log line. */
    private Pop3Response upstreamFailure(String account, Throwable cause) {
        if (cause instanceof Pop3ReplyException refused) {
            countLogin("refused");
            log.warn("{} POP3 maildrop of account {} refused: {}", sessionId, account, refused.getMessage());
            return refused.reply();
        }
        if (cause instanceof UpstreamException ue) {
            log.warn("{} POP3 upstream of account {} unavailable: {}", sessionId, account, ue.toString());
            if (ue.kind() == UpstreamException.Kind.LIMIT_REACHED) {
                countLogin("in_use");
                return Pop3Response.err("[IN-USE] Too many connections to this mailbox, try again later");
            }
            countLogin("unavailable");
            return Pop3Response.err("[SYS/TEMP] Mailbox unavailable upstream, try again later");
        }
        countLogin("unavailable");
        log.error("{} POP3 upstream of account {} failed unexpectedly", sessionId, account, cause);
        return Pop3Response.err("[SYS/TEMP] Mailbox unavailable upstream, try again later");
    }

    // ---- TRANSACTION ----------------------------------------------------------------------------------------------

    private void transaction(Pop3CommandLine line) {
        String verb = line.verb();
        if (verb.equals("CAPA")) {
            List<String> caps = new ArrayList<>(maildrop.capabilities());
            caps.addAll(List.of("RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "IMPLEMENTATION " + settings.implementation()));
            capa(caps);
            return;
        }
        Pop3Command command;
        try {
            command = Pop3Command.parse(line);
        } catch (IllegalArgumentException e) {
            reply(Pop3Response.err(e.getMessage()));
            return;
        }
        if (command == null) {
            reply(switch (verb) {
                case "USER", "PASS", "AUTH", "APOP", "STLS" -> Pop3Response.err("Already logged in");
                default -> Pop3Response.err("Unknown command");
            });
            return;
        }
        busy = true;
        if (command.verb() == Pop3Command.Verb.QUIT) {
            state = Pop3State.UPDATE;
            SessionLog.outcome(ctx.channel(), "quit");
            Pop3Maildrop md = maildrop;
            maildrop = null;
            md.quit(() -> {
                closing = true;
                ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            });
            return;
        }
        maildrop.execute(command, this::finish);
    }

    // ---- helpers --------------------------------------------------------------------------------------------------

    private static boolean isTransactionVerb(String verb) {
        return switch (verb) {
            case "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL" -> true;
            default -> false;
        };
    }

    private void capa(List<String> lines) {
        multiLine("Capability list follows", lines);
    }

    private void multiLine(String status, List<String> lines) {
        StringBuilder b = new StringBuilder();
        for (String l : lines) {
            b.append(l).append("\r\n");
        }
        ctx.write(Pop3Response.ok(status));
        ctx.write(Pop3Data.ascii(b));
        ctx.writeAndFlush(Pop3Data.END);
    }

    private void reply(Pop3Response response) {
        ctx.writeAndFlush(response);
    }

    /** Still not logged in after {@code login-timeout}: the connection gives back its pre-login slot. */
    private void loginTimedOut() {
        if (closing || state != Pop3State.AUTHORIZATION) {
            return;
        }
        if (busy) {
            // a login is being checked (Argon2, the upstream's login): its reply comes within the upstream timeouts;
            // look again then rather than cut it off without a word
            loginTimer = ctx.executor().schedule(this::loginTimedOut, 5, java.util.concurrent.TimeUnit.SECONDS);
            return;
        }
        log.info("{} POP3 client did not log in within {}; closing", sessionId, settings.loginTimeout());
        SessionLog.outcome(ctx.channel(), "login-timeout");
        closeWith(Pop3Response.err("Login timeout; closing"));
    }

    private void closeWith(Pop3Response response) {
        closing = true;
        queue.clear();
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }

    private void abandon() {
        if (maildrop != null) {
            Pop3Maildrop md = maildrop;
            maildrop = null;
            md.abandon();
        }
    }

    private void goodbye() {
        if (closing) {
            return;
        }
        log.info("{} POP3 session closed for shutdown", sessionId);
        abandon();
        SessionLog.outcome(ctx.channel(), "shutdown");
        closeWith(Pop3Response.err("[SYS/TEMP] Server shutting down"));
    }

    private static Throwable unwrap(Throwable t) {
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    private static String utf8(String latin1) {
        return new String(latin1.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
    }
}
