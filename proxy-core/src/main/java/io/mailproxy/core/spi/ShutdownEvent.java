package io.mailproxy.core.spi;

/** Fired down a session's pipeline when the daemon stops: say goodbye in the protocol and close. */
public final class ShutdownEvent {
    public static final ShutdownEvent INSTANCE = new ShutdownEvent();

    private ShutdownEvent() { }

    @Override
    public String toString() {
        return "ShutdownEvent";
    }
}
