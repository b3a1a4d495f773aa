package io.mailproxy.core.spi;

/**
 * Fired down a session's pipeline when the session has not logged in and a newer connection takes its place under
 * {@code limits.max-unauthenticated} (the oldest silent one goes, else the oldest): say goodbye in the protocol
 * ({@code * BYE [UNAVAILABLE]}, {@code -ERR [SYS/TEMP]}, {@code 421 4.7.0}) and close. A session that logged in
 * meanwhile ignores it.
 */
public final class EvictionEvent {
    public static final EvictionEvent INSTANCE = new EvictionEvent();

    private EvictionEvent() { }

    @Override
    public String toString() {
        return "EvictionEvent";
    }
}
