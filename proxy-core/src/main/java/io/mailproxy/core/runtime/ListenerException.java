package io.mailproxy.core.runtime;

import io.mailproxy.core.config.ListenerConfig;

/**
 * A listener could not be started or reloaded: its port is in use, its address does not exist here, its TLS files
 * are unreadable, or no frontend serves its protocol. The message names the listener ("imap 127.0.0.1:1143").
 */
public final class ListenerException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient ListenerConfig listener;

    ListenerException(ListenerConfig listener, String message, Throwable cause) {
        super("listener " + listener.describe() + ": " + message, cause);
        this.listener = listener;
    }

    /** The listener that failed. */
    public ListenerConfig listener() {
        return listener;
    }
}
