package io.mailproxy.pop3.codec;

import io.netty.buffer.ByteBuf;

/**
 * Finds where one upstream POP3 response ends, in bytes that stream through unchanged (pass-through relay). The
 * caller says for each command whether a {@code +OK} reply is multi-line (RETR, TOP, LIST and UIDL without an
 * argument, CAPA); the scanner reads the status line, then, for a multi-line {@code +OK}, the body up to the
 * {@code CRLF.CRLF} terminator. Nothing is buffered except the status line, which is bounded.
 */
public final class Pop3ResponseScanner {

    private enum State { IDLE, STATUS, LINE_START, MID_LINE, DOT, DOT_CR }

    private final int maxStatusLine;
    private State state = State.IDLE;
    private boolean multiLineIfOk;
    private final StringBuilder status = new StringBuilder();

    public Pop3ResponseScanner(int maxStatusLine) {
        this.maxStatusLine = maxStatusLine;
    }

    /** Starts a new response. */
    public void expect(boolean multiLineIfOk) {
        this.multiLineIfOk = multiLineIfOk;
        this.state = State.STATUS;
        status.setLength(0);
    }

    /** True while a response is expected and not yet complete. */
    public boolean inResponse() {
        return state != State.IDLE;
    }

    /** The status line of the current or last response, without CRLF. */
    public String statusLine() {
        return status.toString();
    }

    public boolean ok() {
        return status.length() >= 3 && status.charAt(0) == '+' && status.charAt(1) == 'O' && status.charAt(2) == 'K';
    }

    /**
     * Scans the readable bytes (without consuming them).
     *
     * @return the absolute index just after the end of the current response, or -1 if it continues past them
     * @throws IllegalStateException when no response is expected, or the status line is too long or malformed
     */
    public int scan(ByteBuf buf) {
        if (state == State.IDLE) {
            throw new IllegalStateException("bytes from upstream with no command outstanding");
        }
        // One buffer access for the whole scan (cheap under the leak detector too), then a tight loop over an NIO
        // view: inside a line only a LF matters, so the state machine runs on the few bytes around line starts.
        int base = buf.readerIndex();
        java.nio.ByteBuffer nio = buf.nioBuffer(base, buf.readableBytes());
        int pos = nio.position();
        int n = nio.remaining();
        int k = 0;
        while (k < n) {
            if (state == State.MID_LINE) {
                while (k < n && nio.get(pos + k) != '\n') {
                    k++;
                }
                if (k == n) {
                    return -1;
                }
                state = State.LINE_START;
                k++;
                continue;
            }
            if (!step(nio.get(pos + k))) {
                return base + k + 1;
            }
            k++;
        }
        return -1;
    }

    /** Consumes one byte; false when it completed the response. */
    private boolean step(byte b) {
        switch (state) {
            case STATUS -> {
                if (b == '\n') {
                    trimCr();
                    if (!ok() && !(status.length() >= 4 && status.substring(0, 4).equals("-ERR"))) {
                        throw new IllegalStateException("not a POP3 status line: " + statusLine());
                    }
                    if (multiLineIfOk && ok()) {
                        state = State.LINE_START;
                    } else {
                        state = State.IDLE;
                        return false;
                    }
                } else {
                    if (status.length() >= maxStatusLine) {
                        throw new IllegalStateException("upstream status line longer than " + maxStatusLine);
                    }
                    status.append((char) (b & 0xff));
                }
            }
            case LINE_START -> state = b == '.' ? State.DOT : b == '\n' ? State.LINE_START : State.MID_LINE;
            case MID_LINE -> {
                if (b == '\n') {
                    state = State.LINE_START;
                }
            }
            case DOT -> state = b == '\r' ? State.DOT_CR : b == '\n' ? State.LINE_START : State.MID_LINE;
            case DOT_CR -> {
                if (b == '\n') {
                    state = State.IDLE;
                    return false;
                }
                state = State.MID_LINE;
            }
            default -> throw new IllegalStateException("bytes after the end of the response");
        }
        return true;
    }

    private void trimCr() {
        int n = status.length();
        if (n > 0 && status.charAt(n - 1) == '\r') {
            status.setLength(n - 1);
        }
    }

    @Override
    public String toString() {
        return "Pop3ResponseScanner[" + state + "]";
    }
}
