package io.mailproxy.imap.session;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.runtime.ClientAddress;
import io.mailproxy.core.runtime.SessionLog;
import io.mailproxy.core.identity.LocalLogin;
import io.mailproxy.core.imap.ImapLiteralChunk;
import io.mailproxy.core.imap.ImapValue;
import io.mailproxy.core.pool.Lease;
import io.mailproxy.core.sasl.ServerMechanism;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.spi.ListenerContext;
import io.mailproxy.core.spi.EvictionEvent;
import io.mailproxy.core.spi.ShutdownEvent;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.imap.ImapSettings;
import io.mailproxy.imap.codec.ImapCommandDecoder;
import io.mailproxy.imap.codec.ImapCommandError;
import io.mailproxy.imap.codec.ImapCommandLine;
import io.mailproxy.imap.policy.ClientPolicy;
import io.mailproxy.imap.upstream.ImapRelay;
import io.mailproxy.imap.upstream.UpstreamCapabilities;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The IMAP session before login (RFC 3501 section 6.1 and 6.2; RFC 4959 SASL-IR, RFC 4616 PLAIN, RFC 2971 ID,
 * RFC 7888 LITERAL+ answered here): greeting, CAPABILITY, NOOP, LOGOUT, ID, STARTTLS, LOGIN and AUTHENTICATE PLAIN.
 * A local login leases an upstream connection and hands the channel to {@link ImapRelay}.
 */
public final class ImapSessionHandler extends ChannelInboundHandlerAdapter {

    public static final String NAME = "imap-session";

    private static final Logger LOG = LoggerFactory.getLogger(ImapSessionHandler.class);
    /** What the greeting and CAPABILITY offer ({@code AUTH=}) and AUTHENTICATE accepts. */
    private static final List<String> MECHANISMS = List.of(ServerMechanism.PLAIN);

    private final CoreServices services;
    private final ListenerContext listener;
    private final ImapSettings settings;
    private final ImapCommandDecoder decoder;
    private final ArrayDeque<Object> backlog = new ArrayDeque<>();
    private final ByteArrayOutputStream command = new ByteArrayOutputStream();

    private ChannelHandlerContext ctx;
    private ImapState state = ImapState.NOT_AUTHENTICATED;
    private boolean started;
    private boolean busy;
    private boolean closing;
    /** STARTTLS answered, SslHandler not yet installed: everything received meanwhile was sent in plaintext. */
    private boolean awaitingTls;
    /** AUTHENTICATE waiting for the client's response to a challenge: its tag and exchange. */
    private String saslTag;
    private ServerMechanism sasl;
    private ScheduledFuture<?> loginTimer;
    private int loginFailures;

    public ImapSessionHandler(CoreServices services, ListenerContext listener, ImapSettings settings,
                              ImapCommandDecoder decoder) {
        this.services = services;
        this.listener = listener;
        this.settings = settings;
        this.decoder = decoder;
    }

    public ImapState state() {
        return state;
    }

    /** The capabilities offered before login, from the listener's configuration only (DESIGN rule 6). */
    List<String> capabilities() {
        List<String> caps = new ArrayList<>(List.of("IMAP4rev1", "LITERAL+", "SASL-IR", "ID"));
        MECHANISMS.forEach(m -> caps.add("AUTH=" + m));
        if (listener.startTlsAvailable() && !listener.isSecure(ctx.channel())) {
            caps.add(1, "STARTTLS");
        }
        return caps;
    }

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
        ctx.channel().config().setAutoRead(false);
        loginTimer = ctx.executor().schedule(this::loginTimeout, settings.loginTimeout().toNanos(), TimeUnit.NANOSECONDS);
        ctx.writeAndFlush(ascii("* OK [CAPABILITY " + String.join(" ", capabilities()) + "] " + settings.greeting() + "\r\n"));
        ctx.read();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (closing || awaitingTls) {
            ReferenceCountUtil.release(msg);
        } else if (busy) {
            backlog.add(msg);
        } else {
            try {
                process(msg);
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.flush();
        if (!busy && !closing && ctx.channel().isWritable()) {
            ctx.read();
        }
    }

    /** A client that does not read its replies is not read from either (the outbound buffer stays bounded). */
    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable() && !busy && !closing && !awaitingTls) {
            ctx.read();
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ShutdownEvent) {
            SessionLog.outcome(ctx.channel(), "shutdown");
            bye("* BYE [UNAVAILABLE] Server shutting down\r\n");
            return;
        }
        if (evt instanceof EvictionEvent) {
            if (!closing && state == ImapState.NOT_AUTHENTICATED) {
                LOG.info("{} IMAP client not logged in; closed to make room for a new connection", sid());
                bye("* BYE [UNAVAILABLE] Too many connections not yet logged in\r\n");
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closing = true;
        cancelTimer();
        backlog.forEach(ReferenceCountUtil::release);
        backlog.clear();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.debug("{} IMAP connection failed before login", sid(), cause);
        closing = true;
        ctx.close();
    }

    private void process(Object msg) {
        if (msg instanceof ImapCommandError err) {
            LOG.info("{} IMAP client broke a limit before login: {}", sid(), err.reason());
            command.reset();
            ctx.write(ascii(err.tag() + " BAD " + err.reason() + "\r\n"));
            bye("* BYE " + err.reason() + ", closing\r\n");
        } else if (msg instanceof ImapLiteralChunk chunk) {
            append(chunk.content());
        } else if (msg instanceof ImapCommandLine seg) {
            if (saslTag != null && seg.isFirst()) {
                String tag = saslTag;
                ServerMechanism mechanism = sasl;
                saslTag = null;
                sasl = null;
                if (seg.endsCommand()) {
                    saslResponse(tag, mechanism, seg.text());
                } else {
                    ctx.write(ascii(tag + " BAD Invalid SASL response\r\n"));
                    bye("* BYE Protocol error, closing\r\n");
                }
                return;
            }
            if (!append(seg.content())) {
                return;
            }
            if (seg.endsCommand()) {
                byte[] bytes = command.toByteArray();
                command.reset();
                execute(bytes);
            } else if (seg.synchronizing()) {
                ctx.writeAndFlush(ascii("+ Ready for literal data\r\n"));
                decoder.acceptLiteral();
            }
        }
    }

    /** Adds to the command being received; false (and closed) when it is too large in total. */
    private boolean append(ByteBuf buf) {
        long max = settings.maxLineLength() + 4L * settings.maxLiteralBeforeLogin();
        if (command.size() + buf.readableBytes() > max) {
            command.reset();
            ctx.write(ascii("* BAD Command too long\r\n"));
            SessionLog.outcome(ctx.channel(), "line-too-long");
            bye("* BYE Command too long, closing\r\n");
            return false;
        }
        byte[] b = ByteBufUtil.getBytes(buf);
        command.write(b, 0, b.length);
        return true;
    }

    private void execute(byte[] bytes) {
        List<ImapValue> v = ImapValue.parseArguments(bytes, 0, bytes.length);
        String tag = v.isEmpty() || !(v.get(0) instanceof ImapValue.Atom a) || !validTag(a.value()) ? null : a.value();
        if (tag == null) {
            ctx.write(ascii("* BAD Missing or invalid tag\r\n"));
            return;
        }
        if (v.size() < 2 || !(v.get(1) instanceof ImapValue.Atom)) {
            ctx.write(ascii(tag + " BAD Missing command\r\n"));
            return;
        }
        String name = v.get(1).asText().toUpperCase(Locale.ROOT);
        List<ImapValue> args = v.subList(2, v.size());
        switch (name) {
            case "CAPABILITY" -> ctx.write(ascii("* CAPABILITY " + String.join(" ", capabilities()) + "\r\n" + tag
                    + " OK CAPABILITY completed\r\n"));
            case "NOOP" -> ctx.write(ascii(tag + " OK NOOP completed\r\n"));
            case "ID" -> ctx.write(ascii("* ID (\"name\" \"mailproxy\")\r\n" + tag + " OK ID completed\r\n"));
            case "LOGOUT" -> {
                state = ImapState.LOGOUT;
                SessionLog.outcome(ctx.channel(), "logout");
                ctx.write(ascii("* BYE Logging out\r\n" + tag + " OK LOGOUT completed\r\n"));
                closing = true;
                cancelTimer();
                ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            }
            case "STARTTLS" -> startTls(tag);
            case "LOGIN" -> {
                if (args.size() != 2 || args.get(0).asText() == null || args.get(1).asText() == null) {
                    ctx.write(ascii(tag + " BAD LOGIN expects a user name and a password\r\n"));
                    return;
                }
                login(tag, args.get(0).asText(), bytesOf(args.get(1)));
            }
            case "AUTHENTICATE" -> authenticate(tag, args);
            default -> ctx.write(ascii(tag + " BAD " + (name.matches("[A-Z]+") ? name + " needs a login first"
                    : "Unknown command") + "\r\n"));
        }
    }

    private static boolean validTag(String tag) {
        return tag.chars().allMatch(c -> c > ' ' && c < 127 && "(){%*\"\\+".indexOf(c) < 0);
    }

    private static byte[] bytesOf(ImapValue v) {
        return v instanceof ImapValue.Str s ? s.bytes() : v.asText().getBytes(StandardCharsets.UTF_8);
    }

    private void startTls(String tag) {
        Optional<SslHandler> ssl = listener.startTlsAvailable() && !listener.isSecure(ctx.channel())
                ? listener.newServerSslHandler(ctx.channel()) : Optional.empty();
        if (ssl.isEmpty()) {
            ctx.write(ascii(tag + " BAD STARTTLS is not available\r\n"));
            return;
        }
        // Whatever the client sent after STARTTLS in plaintext must never be used (RFC 3501 section 6.2.1, the
        // STARTTLS command injection of CVE-2011-0411): drop it all until the SslHandler is in place.
        backlog.forEach(ReferenceCountUtil::release);
        backlog.clear();
        command.reset();
        busy = true;
        awaitingTls = true;
        ctx.writeAndFlush(ascii(tag + " OK Begin TLS negotiation now\r\n")).addListener(f -> {
            if (!f.isSuccess() || !ctx.channel().isActive()) {
                ReferenceCountUtil.release(ssl.get().engine());
                return;
            }
            // a separate task: the rest of the current read (plaintext sent after STARTTLS) is decoded and dropped
            // first; AUTO_READ is off and busy is set, so nothing more is read before the SslHandler is in place
            ctx.executor().execute(() -> {
                if (closing) {
                    return;
                }
                decoder.reset();
                ctx.pipeline().addFirst("tls", ssl.get());
                awaitingTls = false;
                resume();
            });
        });
    }

    private void authenticate(String tag, List<ImapValue> args) {
        if (args.isEmpty() || args.get(0).asText() == null) {
            ctx.write(ascii(tag + " BAD AUTHENTICATE expects a mechanism\r\n"));
            return;
        }
        ServerMechanism mechanism = ServerMechanism.forName(args.get(0).asText(), MECHANISMS);
        if (mechanism == null) {
            ctx.write(ascii(tag + " NO Unsupported authentication mechanism\r\n"));
            return;
        }
        if (args.size() > 2 || args.size() == 2 && args.get(1).asText() == null) {
            // NIL, a parenthesised list, extra arguments: not an initial response (RFC 4959)
            ctx.write(ascii(tag + " BAD Invalid initial response\r\n"));
        } else if (args.size() == 2 && args.get(1).asText().equals("*")) {
            ctx.write(ascii(tag + " BAD AUTHENTICATE cancelled\r\n"));
        } else {
            saslStep(tag, mechanism, mechanism.start(args.size() == 2 ? args.get(1).asText() : null));
        }
    }

    /** The client's response to a challenge, or {@code *} to cancel (RFC 3501 section 6.2.2). */
    private void saslResponse(String tag, ServerMechanism mechanism, String response) {
        if (response.equals("*")) {
            ctx.write(ascii(tag + " BAD AUTHENTICATE cancelled\r\n"));
        } else {
            saslStep(tag, mechanism, mechanism.next(response));
        }
    }

    private void saslStep(String tag, ServerMechanism mechanism, ServerMechanism.Step step) {
        if (step instanceof ServerMechanism.Challenge challenge) {
            saslTag = tag;
            sasl = mechanism;
            ctx.write(ascii("+ " + challenge.base64() + "\r\n"));
        } else if (step instanceof ServerMechanism.Malformed malformed) {
            LOG.info("{} IMAP AUTHENTICATE {} response malformed: {}", sid(), mechanism.name(), malformed.why());
            ctx.write(ascii(tag + " BAD " + (malformed.notBase64() ? "Invalid base64 in SASL response"
                    : "Invalid " + mechanism.name() + " response") + "\r\n"));
        } else if (step instanceof ServerMechanism.Refused refused) {
            LOG.info("{} IMAP login refused: {}", sid(), refused.why());
            ctx.write(ascii(tag + " NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"));
        } else {
            ServerMechanism.Credentials credentials = (ServerMechanism.Credentials) step;
            login(tag, credentials.login(), credentials.password());
        }
    }

    private void login(String tag, String login, byte[] password) {
        busy = true;
        ctx.flush();
        services.authenticator().authenticate(login, password, Protocol.IMAP, ClientAddress.of(ctx.channel()))
                .whenComplete((result, error) -> ctx.executor().execute(() -> {
                    Arrays.fill(password, (byte) 0);
                    onLocalLogin(tag, login, result, error);
                }));
    }

    private void onLocalLogin(String tag, String login, LocalLogin result, Throwable error) {
        if (closing) {
            return;
        }
        if (error != null) {
            LOG.error("{} IMAP login of {}: local authentication failed", sid(), SessionLog.printable(login), error);
            reply(tag + " NO [UNAVAILABLE] Authentication is temporarily unavailable, try again later");
            resume();
            return;
        }
        if (result instanceof LocalLogin.Throttled t) {
            // LocalIdentities logs the penalty once per name and interval: no line per attempt here
            LOG.debug("{} IMAP login of {} slowed down: {}", sid(), SessionLog.printable(login), t.reason());
            reply(tag + " NO [UNAVAILABLE] Login slowed down after repeated failures, try again later");
            loginFailed();
            return;
        }
        if (result instanceof LocalLogin.Rejected r || !(result instanceof LocalLogin.Accepted a)
                || !a.client().allows(Protocol.IMAP)) {
            String why = result instanceof LocalLogin.Rejected r2 ? r2.reason() : "client may not use IMAP";
            LOG.info("{} IMAP login of {} failed: {}", sid(), SessionLog.printable(login), why);
            reply(tag + " NO [AUTHENTICATIONFAILED] Authentication failed.");
            loginFailed();
            return;
        }
        services.pools().acquire(a.account(), Protocol.IMAP).whenComplete((lease, e) ->
                ctx.executor().execute(() -> onLease(tag, login, a, lease, e)));
    }

    /** At {@code limits.max-login-failures} failed logins the connection ends (OpenSSH's MaxAuthTries). */
    private void loginFailed() {
        if (++loginFailures < services.authenticator().maxLoginFailures()) {
            resume();
            return;
        }
        LOG.info("{} IMAP connection closed after {} failed logins", sid(), loginFailures);
        SessionLog.outcome(ctx.channel(), "login-failures");
        bye("* BYE Too many failed logins\r\n");
    }

    private void onLease(String tag, String login, LocalLogin.Accepted accepted, Lease lease, Throwable error) {
        if (error == null && lease == null) {
            error = new IllegalStateException("pool returned no lease");
        }
        if (closing || !ctx.channel().isActive()) {
            if (lease != null) {
                lease.release(false);
            }
            return;
        }
        if (error != null) {
            Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
            if (cause instanceof UpstreamException ue && ue.kind() == UpstreamException.Kind.LIMIT_REACHED) {
                LOG.warn("{} IMAP login of {}: account {} is at its connection limit ({})", sid(), SessionLog.printable(login),
                        accepted.account().name(), ue.getMessage());
                reply(tag + " NO [LIMIT] Too many connections to this mailbox, try again later");
            } else if (cause instanceof UpstreamException ue) {
                LOG.warn("{} IMAP login of {}: upstream unavailable for account {}: {} {}{}", sid(), SessionLog.printable(login),
                        accepted.account().name(), ue.kind(), ue.getMessage(),
                        ue.upstreamReply().map(r -> " (upstream said: " + r + ")").orElse(""));
                reply(tag + " NO [UNAVAILABLE] The mail server is not available, try again later");
            } else {
                LOG.error("{} IMAP login of {}: leasing an upstream connection failed", sid(), SessionLog.printable(login), cause);
                reply(tag + " NO [UNAVAILABLE] The mail server is not available, try again later");
            }
            resume();
            return;
        }
        cancelTimer();
        state = ImapState.AUTHENTICATED;
        listener.authenticated(ctx.channel());
        SessionLog.identify(ctx.channel(), login, accepted.account().name());
        LOG.info("{} IMAP login of {} for account {}", sid(), SessionLog.printable(login), accepted.account().name());
        ctx.writeAndFlush(ascii(tag + " OK [CAPABILITY " + String.join(" ",
                UpstreamCapabilities.rewrite(lease.session().capabilities(),
                        !accepted.client().imap().folders().isEmpty())) + "] Logged in\r\n"));
        List<Object> pending = new ArrayList<>(backlog);
        backlog.clear();
        ImapRelay.start(ctx.channel(), NAME, decoder, lease, ClientPolicy.of(accepted.client().imap()), settings, sid(),
                pending, services.pools(), accepted.account(), services.clock(), services.meters());
    }

    private void resume() {
        busy = false;
        while (!busy && !closing && !backlog.isEmpty()) {
            Object msg = backlog.poll();
            try {
                process(msg);
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }
        if (!closing) {
            ctx.flush();
            if (!busy && ctx.channel().isWritable()) {
                ctx.read();
            }
        }
    }

    private void loginTimeout() {
        if (!closing && state == ImapState.NOT_AUTHENTICATED) {
            LOG.info("{} IMAP client did not log in within {}", sid(), settings.loginTimeout());
            SessionLog.outcome(ctx.channel(), "login-timeout");
            bye("* BYE Autologout; no login within " + settings.loginTimeout().toSeconds() + " seconds\r\n");
        }
    }

    private void bye(String text) {
        closing = true;
        state = ImapState.LOGOUT;
        cancelTimer();
        ctx.writeAndFlush(ascii(text)).addListener(ChannelFutureListener.CLOSE);
    }

    private void reply(String line) {
        ctx.writeAndFlush(ascii(line + "\r\n"));
    }

    private void cancelTimer() {
        if (loginTimer != null) {
            loginTimer.cancel(false);
        }
    }

    private String sid() {
        return listener.sessionId(ctx.channel());
    }

    private ByteBuf ascii(String s) {
        return ByteBufUtil.writeUtf8(ctx.alloc(), s);
    }
}
