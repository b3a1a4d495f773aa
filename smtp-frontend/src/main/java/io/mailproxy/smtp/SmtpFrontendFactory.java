package io.mailproxy.smtp;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.ConfigException;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.spi.Frontend;
import io.mailproxy.core.spi.FrontendFactory;
import io.mailproxy.core.spi.QueueAdmin;
import io.mailproxy.smtp.graph.GraphSplitter;
import io.mailproxy.smtp.graph.GraphSubmission;
import io.mailproxy.smtp.queue.DeliveryWorker;
import io.mailproxy.smtp.queue.QueueSettings;
import io.mailproxy.smtp.queue.SmtpQueue;
import io.mailproxy.smtp.queue.Spool;
import io.mailproxy.smtp.session.SmtpSettings;
import java.io.IOException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.Optional;
import java.util.function.Function;

/** The SMTP submission frontend, found by the runtime through {@link java.util.ServiceLoader}. */
public final class SmtpFrontendFactory implements FrontendFactory {

    @Override
    public Protocol protocol() {
        return Protocol.SMTP;
    }

    /**
     * Reads and validates {@code mailproxy.smtp} (a bad value is a {@link io.mailproxy.core.config.ConfigException}),
     * opens the spool in {@code <state-dir>/spool} (recovering what a crash left) and starts the delivery worker.
     * Blocking (file I/O): called at start-up, off the event loops.
     */
    @Override
    public Frontend create(CoreServices services) {
        var config = services.config();
        SmtpSettings settings = SmtpSettings.from(config.section("smtp"), config.source());
        QueueSettings queue = QueueSettings.from(config.section("smtp").getConfig("queue"), config.source());
        Spool spool;
        try {
            spool = Spool.open(SmtpQueue.spoolDirectory(config.stateDir()), queue.maxSize(), Spool.Durability.FSYNC,
                    services.blockingExecutor(), services.clock(), queue.fsyncWindow());
        } catch (IOException e) {
            throw new ConfigException(config.source(), -1, "mailproxy.state-dir",
                    "cannot open the SMTP spool " + SmtpQueue.spoolDirectory(config.stateDir()) + ": " + e);
        }
        Function<String, Optional<AccountConfig>> accounts = name -> services.config().account(name);
        Path graphDir = GraphSubmission.workDirectory(config.stateDir());
        GraphSubmission.clearWorkDirectory(graphDir); // what a crash left: messages never answered with 250
        GraphSubmission graph = new GraphSubmission(services::graph, services.blockingExecutor(),
                GraphSplitter.LARGE_MESSAGE, graphDir, settings.headerLimit());
        DeliveryWorker worker = new DeliveryWorker(spool, queue,
                DeliveryWorker.withGraph(DeliveryWorker.overPool(services.pools(), accounts, spool,
                        services.blockingExecutor(), settings.upstreamReplyTimeout()),
                        a -> GraphSubmission.sendsWithGraph(services.config(), a), accounts, spool, graph),
                accounts, services.clock(), services.scheduler(), services.blockingExecutor(), services.meters(),
                new SecureRandom(), settings.hostname(), settings.headerLimit());
        worker.start();
        return new SmtpFrontend(services, settings, spool, worker, graph, graphDir);
    }

    /** The spool of a daemon that is not running, for {@code queue list/retry/delete}. */
    @Override
    public Optional<QueueAdmin> offlineQueue(Path stateDir, Clock clock) throws IOException {
        return Optional.of(SmtpQueue.offline(stateDir, clock));
    }
}
