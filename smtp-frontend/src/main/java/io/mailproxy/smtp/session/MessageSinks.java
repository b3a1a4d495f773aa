package io.mailproxy.smtp.session;

import io.mailproxy.core.config.ClientConfig.SmtpPolicy;
import io.mailproxy.core.identity.LocalLogin;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.smtp.graph.GraphSubmission;
import io.mailproxy.smtp.queue.Spool;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Chooses each transaction's {@link MessageSink} from the client's policy; one per session. */
final class MessageSinks {

    private static final Logger log = LoggerFactory.getLogger(SmtpSession.class);

    private final CoreServices services;
    private final SmtpSettings settings;
    /** The store-and-forward spool, or null when the queue is not available (tests of pass-through only). */
    private final Spool spool;
    /**
     * Completes once the lease of the session's last relayed transaction is back in the pool. The next MAIL acquires
     * only after that: a client that pipelines its next MAIL behind the final dot (or sends it the moment the final
     * 250 arrives) would otherwise ask the pool while the previous connection is still on its way back, and the pool,
     * finding nothing idle, would open a second one (Office 365 allows 3 per mailbox: 432 4.3.2). The final reply
     * itself never waits for this.
     */
    private CompletableFuture<Void> previousLease = CompletableFuture.completedFuture(null);

    /** Messages of accounts that send with Microsoft Graph, in pass-through. */
    private final GraphSubmission graph;
    private final Path graphWorkDir;

    MessageSinks(CoreServices services, SmtpSettings settings, Spool spool, GraphSubmission graph, Path graphWorkDir) {
        this.services = services;
        this.settings = settings;
        this.spool = spool;
        this.graph = graph;
        this.graphWorkDir = graphWorkDir;
    }

    /** Says at login when the client's messages cannot go where its policy says. */
    void check(String sid, LocalLogin.Accepted login) {
        if (login.client().smtp().queue() && spool == null) {
            log.warn("[{}] client {} has smtp.queue = true, but the spool is not available:"
                    + " relaying in pass-through mode (250 only after the upstream's 250)", sid,
                    login.client().login());
        }
    }

    /** The sink of a new transaction of {@code login}. */
    MessageSink open(Transaction t, LocalLogin.Accepted login, MessageSink.Events events) {
        SmtpPolicy policy = login.client().smtp();
        boolean rewrite = policy.sender() == SmtpPolicy.Sender.REWRITE;
        if (spool != null && policy.queue()) {
            return new SpoolSink(t, events, spool, login.client().login(), rewrite); // Graph or not: the queue decides
        }
        if (GraphSubmission.sendsWithGraph(services.config(), t.account)) {
            return new GraphSink(t, events, graph, graphWorkDir, services.blockingExecutor());
        }
        RelaySink relay = new RelaySink(t, events, services, settings, rewrite, previousLease);
        previousLease = relay.leaseBack();
        return relay;
    }
}
