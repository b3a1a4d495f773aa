package io.mailproxy.daemon.cli;

/** The exit codes DESIGN's Commands section promises. */
public final class ExitCodes {
    public static final int OK = 0;
    public static final int RUNTIME_FAILURE = 1;
    public static final int USAGE = 2;

    private ExitCodes() { }
}
