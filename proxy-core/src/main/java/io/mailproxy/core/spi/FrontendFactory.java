package io.mailproxy.core.spi;

import io.mailproxy.core.Protocol;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;

/**
 * Entry point of a frontend module, registered in {@code META-INF/services/io.mailproxy.core.spi.FrontendFactory}.
 * Core knows no frontend; the runtime finds them through {@link java.util.ServiceLoader}.
 */
public interface FrontendFactory {

    Protocol protocol();

    /** Called once at start-up (and again after a reload that changed the frontend's own section). */
    Frontend create(CoreServices services);

    /**
     * The queue a frontend keeps under {@code stateDir}, opened for {@code queue list/retry/delete} while no daemon
     * runs (blocking); empty when the frontend keeps none (the default).
     */
    default Optional<QueueAdmin> offlineQueue(Path stateDir, Clock clock) throws IOException {
        return Optional.empty();
    }
}
