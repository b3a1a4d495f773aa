package io.mailproxy.core.admin;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Answers one request per connection, then closes it; anything after the first request head is discarded. */
@ChannelHandler.Sharable
final class AdminHandler extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(AdminHandler.class);

    static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
    static final String JSON = "application/json; charset=utf-8";
    private static final AttributeKey<Boolean> ANSWERED = AttributeKey.valueOf("mailproxy.admin.answered");

    private final PrometheusMeterRegistry metrics;
    private final HealthSource health;
    private final StatusSource status;
    private final Clock clock;

    AdminHandler(PrometheusMeterRegistry metrics, HealthSource health, StatusSource status, Clock clock) {
        this.metrics = metrics;
        this.health = health;
        this.status = status;
        this.clock = clock;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (!(msg instanceof HttpRequest request) || ctx.channel().hasAttr(ANSWERED)) {
                return; // request bodies and anything pipelined after the first request
            }
            ctx.channel().attr(ANSWERED).set(Boolean.TRUE);
            respond(ctx, misdirected(ctx, request) ? text(HttpResponseStatus.MISDIRECTED_REQUEST,
                    "the admin endpoint answers only requests addressed to a loopback address or localhost\n")
                    : answer(request));
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    /** Whether the connection's request has arrived (complete, or refused as malformed). */
    static boolean answered(Channel ch) {
        return ch.hasAttr(ANSWERED);
    }

    /**
     * Ends a connection the endpoint will no longer wait for ({@code why}, for the log): 408 when its request has not
     * arrived, then closed; one already answered (its client slow to read the answer) is just closed.
     */
    static void expire(Channel ch, String why) {
        if (!ch.isActive()) {
            return;
        }
        if (ch.hasAttr(ANSWERED)) {
            log.debug("admin endpoint: closing a connection from {} still being answered: {}", ch.remoteAddress(), why);
            ch.close();
            return;
        }
        ch.attr(ANSWERED).set(Boolean.TRUE);
        log.debug("admin endpoint: no complete request from {}: {}; answering 408", ch.remoteAddress(), why);
        ch.writeAndFlush(text(HttpResponseStatus.REQUEST_TIMEOUT, "request not received in time\n"))
                .addListener(ChannelFutureListener.CLOSE);
    }

    /**
     * DNS rebinding guard: on a loopback listener, a request whose Host names anything but an IP literal or
     * localhost comes from a web page that pointed its own name at 127.0.0.1; it may not read /status.
     */
    private static boolean misdirected(ChannelHandlerContext ctx, HttpRequest request) {
        if (!(ctx.channel().localAddress() instanceof java.net.InetSocketAddress local)
                || !local.getAddress().isLoopbackAddress()) {
            return false;
        }
        String host = request.headers().get(HttpHeaderNames.HOST);
        if (host == null || host.isEmpty()) {
            return false;
        }
        String name = host.startsWith("[") ? host.substring(1, Math.max(1, host.indexOf(']')))
                : host.contains(":") ? host.substring(0, host.lastIndexOf(':')) : host;
        return !(name.equalsIgnoreCase("localhost") || name.matches("[0-9.]+") || name.matches("[0-9a-fA-F:]+"));
    }

    private FullHttpResponse answer(HttpRequest request) {
        if (request.decoderResult().isFailure()) {
            Throwable cause = request.decoderResult().cause();
            if (cause instanceof TooLongHttpLineException) {
                return text(HttpResponseStatus.REQUEST_URI_TOO_LONG, "request line too long\n");
            }
            if (cause instanceof TooLongHttpHeaderException || cause instanceof TooLongFrameException) {
                return text(HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request headers too large\n");
            }
            return text(HttpResponseStatus.BAD_REQUEST, "bad request\n");
        }
        String uri = request.uri();
        int q = uri.indexOf('?');
        String path = q < 0 ? uri : uri.substring(0, q);
        if (!path.equals("/metrics") && !path.equals("/health") && !path.equals("/status")) {
            return text(HttpResponseStatus.NOT_FOUND, "not found; try /metrics, /health or /status\n");
        }
        if (!HttpMethod.GET.equals(request.method())) {
            FullHttpResponse r = text(HttpResponseStatus.METHOD_NOT_ALLOWED, "only GET\n");
            r.headers().set(HttpHeaderNames.ALLOW, "GET");
            return r;
        }
        try {
            return switch (path) {
                case "/metrics" -> response(HttpResponseStatus.OK, PROMETHEUS_TEXT, metrics.scrape());
                case "/health" -> health();
                default -> response(HttpResponseStatus.OK, JSON, Json.write(status.status()) + "\n");
            };
        } catch (RuntimeException e) {
            log.warn("admin endpoint: {} failed", path, e);
            return text(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error; see the daemon's log\n");
        }
    }

    private FullHttpResponse health() {
        boolean listenersUp = health.listenersUp();
        List<AccountHealth> accounts = health.accounts();
        List<String> problems = new ArrayList<>();
        if (!listenersUp) {
            problems.add("listeners: not every configured listener is accepting connections");
        }
        for (AccountHealth a : accounts) {
            if (!a.ok()) {
                problems.add("account " + a.account() + ": " + (a.reason().isEmpty() ? "failing" : a.reason()));
            }
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", problems.isEmpty() ? "UP" : "DOWN");
        body.put("time", clock.instant());
        body.put("listeners", listenersUp ? "UP" : "DOWN");
        body.put("accounts", accounts);
        body.put("problems", problems);
        health.queue().ifPresent(q -> body.put("queue", q));
        return response(problems.isEmpty() ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE, JSON,
                Json.write(body) + "\n");
    }

    private static FullHttpResponse text(HttpResponseStatus status, String body) {
        return response(status, "text/plain; charset=utf-8", body);
    }

    private static FullHttpResponse response(HttpResponseStatus status, String contentType, String body) {
        ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes())
                .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE)
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        return r;
    }

    private static void respond(ChannelHandlerContext ctx, FullHttpResponse response) {
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof IOException) {
            log.debug("admin endpoint: closing a connection from {}: {}", ctx.channel().remoteAddress(),
                    cause.toString());
        } else {
            log.warn("admin endpoint: closing a connection from {}", ctx.channel().remoteAddress(), cause);
        }
        ctx.close();
    }
}
