package io.mailproxy.core.spi;

import io.mailproxy.core.Protocol;

/**
 * Entry point of a frontend module, registered in {@code META-INF/services/io.mailproxy.core.spi.FrontendFactory}.
 * Core knows no frontend; the runtime finds them through {@link java.util.ServiceLoader}.
 */
public interface FrontendFactory {

    Protocol protocol();

    /** Called once at start-up (and again after a reload that changed the frontend's own section). */
    Frontend create(CoreServices services);
}
