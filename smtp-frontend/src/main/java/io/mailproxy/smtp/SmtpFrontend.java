package io.mailproxy.smtp;

import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.spi.Frontend;
import io.mailproxy.core.spi.ListenerContext;
import io.mailproxy.core.spi.QueueAdmin;
import io.mailproxy.smtp.graph.GraphSubmission;
import io.mailproxy.smtp.queue.DeliveryWorker;
import io.mailproxy.smtp.queue.Spool;
import io.mailproxy.smtp.session.SmtpSession;
import io.mailproxy.smtp.session.SmtpSettings;
import io.mailproxy.smtp.codec.SmtpServerDecoder;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelOption;
import io.netty.channel.WriteBufferWaterMark;
import java.nio.file.Path;
import java.util.Optional;

/** Installs the SMTP framer and session on each accepted connection; owns the store-and-forward queue. */
final class SmtpFrontend implements Frontend {

    private final CoreServices services;
    private final SmtpSettings settings;
    private final Spool spool;
    private final DeliveryWorker worker;
    private final GraphSubmission graph;
    private final Path graphWorkDir;

    SmtpFrontend(CoreServices services, SmtpSettings settings) {
        this(services, settings, null, null);
    }

    /** @param spool and {@code worker}: the queue (both null: pass-through only) */
    SmtpFrontend(CoreServices services, SmtpSettings settings, Spool spool, DeliveryWorker worker) {
        this(services, settings, spool, worker, null, null); // Graph: the session's defaults
    }

    /** @param graph and {@code graphWorkDir}: pass-through for accounts that send with Microsoft Graph (null: defaults) */
    SmtpFrontend(CoreServices services, SmtpSettings settings, Spool spool, DeliveryWorker worker,
                 GraphSubmission graph, Path graphWorkDir) {
        this.services = services;
        this.settings = settings;
        this.spool = spool;
        this.worker = worker;
        this.graph = graph;
        this.graphWorkDir = graphWorkDir;
    }

    /** The store-and-forward queue, when this frontend runs one. */
    @Override
    public Optional<QueueAdmin> queue() {
        return Optional.ofNullable(worker);
    }

    @Override
    public void initChannel(Channel channel, ListenerContext listener) {
        // the framer reads only when the session can take more (backpressure, bounded buffering)
        channel.config().setOption(ChannelOption.AUTO_READ, false);
        // replies are small: reading stops once this much waits for a client that does not read (SmtpServerDecoder)
        channel.config().setOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(8 * 1024, 32 * 1024));
        SmtpServerDecoder decoder = new SmtpServerDecoder(settings.maxLine());
        decoder.setMaxDiscard(settings.maxDiscard());
        channel.pipeline().addLast("smtp-decoder", decoder);
        channel.pipeline().addLast("smtp-session", graph == null
                ? new SmtpSession(services, listener, settings, decoder, spool)
                : new SmtpSession(services, listener, settings, decoder, spool, graph, graphWorkDir));
    }

    /** Turns a connection away in SMTP (RFC 5321 3.1: a 421 greeting) and closes. */
    @Override
    public void refuse(Channel channel, String reason) {
        String text = "421 4.3.2 " + settings.hostname() + " " + reason.replaceAll("[\\r\\n]", " ") + "\r\n";
        channel.writeAndFlush(ByteBufUtil.writeUtf8(channel.alloc(), text)).addListener(ChannelFutureListener.CLOSE);
    }

    /** Stops the delivery worker; queued messages stay in the spool for the next start. */
    @Override
    public void close() {
        if (worker != null) {
            worker.close();
        }
    }
}
