package io.mailproxy.core.admin;

/**
 * What {@code /status} (and {@code ./mailproxy status}, through the control socket) shows; the daemon implements it.
 * Called on the admin endpoint's own thread or the control socket's, never on an event loop that serves mail.
 */
@FunctionalInterface
public interface StatusSource {

    StatusReport status();
}
