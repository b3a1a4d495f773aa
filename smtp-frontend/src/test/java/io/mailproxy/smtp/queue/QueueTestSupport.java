package io.mailproxy.smtp.queue;

import io.mailproxy.testkit.MutableClock;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.PoolConfig;
import io.mailproxy.core.config.SecretRef;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Shared helpers for queue tests. */
final class QueueTestSupport {

    static final String ACCOUNT = "reports@contoso.com";

    /** fsync that does nothing (fast unit tests; the spool's own tests use real fsync). */
    static final Spool.Durability NO_SYNC = new Spool.Durability() {
        @Override
        public void force(FileChannel file) { }

        @Override
        public void forceDirectory(Path dir) { }
    };

    private QueueTestSupport() { }

    static AccountConfig account(int poolMax) {
        PoolConfig smtp = new PoolConfig(poolMax, 0, Duration.ofSeconds(5), Duration.ofMinutes(10),
                Duration.ofSeconds(30), Duration.ofMinutes(5), Duration.ofMinutes(4));
        return new AccountConfig(ACCOUNT, ACCOUNT, "office365",
                new AuthConfig.Password(Optional.empty(), new SecretRef.Literal("x")), ACCOUNT,
                Map.of(Protocol.SMTP, smtp));
    }

    /** Stores a message through the accept path's writer and commit, waiting for the commit. */
    static Envelope accept(Spool spool, String from, List<String> rcpts, String stuffed) throws Exception {
        Spool.Writer w = spool.newMessage();
        w.write(Unpooled.copiedBuffer(stuffed, StandardCharsets.ISO_8859_1)).get();
        return w.commit(ACCOUNT, "app", from, from, List.of(), rcpts).get();
    }

    static Spool open(Path dir, MutableClock clock) throws IOException {
        return Spool.open(dir, 1L << 30, NO_SYNC, Runnable::run, clock, Duration.ZERO);
    }
}
