package io.mailproxy.daemon.control;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The CLI's side of the control socket. */
public final class ControlClient {

    private final Path stateDir;

    public ControlClient(Path stateDir) {
        this.stateDir = stateDir;
    }

    public static Path socketPath(Path stateDir) {
        return stateDir.resolve("control.sock");
    }

    /** True when a daemon answers on the state-dir's control socket. */
    public static boolean isRunning(Path stateDir) {
        if (!Files.exists(socketPath(stateDir))) {
            return false;
        }
        try {
            new ControlClient(stateDir).call(ControlProtocol.PING, null);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public void putSecret(String name, String value) throws IOException {
        call(ControlProtocol.SECRET_PUT + " " + name, ControlProtocol.encode(value));
    }

    public boolean deleteSecret(String name) throws IOException {
        try {
            call(ControlProtocol.SECRET_DELETE + " " + name, null);
            return true;
        } catch (ControlException e) {
            return false;
        }
    }

    /** An OAuth 2.0 client secret of the running configuration (the daemon refuses any other name). */
    public java.util.Optional<String> clientSecret(String name) throws IOException {
        try {
            List<String> lines = call(ControlProtocol.SECRET_GET + " " + name, null);
            return lines.isEmpty() ? java.util.Optional.empty() : java.util.Optional.of(ControlProtocol.decode(lines.get(0)));
        } catch (ControlException e) {
            return java.util.Optional.empty();
        }
    }

    public List<String> listSecrets() throws IOException {
        return call(ControlProtocol.SECRET_LIST, null);
    }

    /** Runs {@code check} inside the daemon (which alone holds the master key); the lines of its table. */
    public List<String> check() throws IOException {
        return call(ControlProtocol.CHECK, null);
    }

    public List<String> status() throws IOException {
        return call(ControlProtocol.STATUS, null);
    }

    /** The running daemon's queue, one line per message. */
    public List<String> queueList() throws IOException {
        return call(ControlProtocol.QUEUE_LIST, null);
    }

    /** Makes a message (or "all") due now; the daemon's answer line. */
    public List<String> queueRetry(String idOrAll) throws IOException {
        return call(ControlProtocol.QUEUE_RETRY + " " + idOrAll, null);
    }

    public List<String> queueDelete(String id) throws IOException {
        return call(ControlProtocol.QUEUE_DELETE + " " + id, null);
    }

    /** @throws ControlException when the daemon answers ERR */
    List<String> call(String request, String payload) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socketPath(stateDir)));
            OutputStream out = Channels.newOutputStream(ch);
            StringBuilder req = new StringBuilder(request).append('\n');
            if (payload != null) {
                req.append(payload).append('\n');
            }
            out.write(req.toString().getBytes(StandardCharsets.UTF_8));
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch),
                    StandardCharsets.UTF_8));
            String head = in.readLine();
            List<String> lines = new ArrayList<>();
            for (String l = in.readLine(); l != null && !l.equals(ControlProtocol.END); l = in.readLine()) {
                lines.add(l);
            }
            if (head == null) {
                throw new IOException("the daemon closed the control socket without answering");
            }
            if (!head.equals("OK")) {
                throw new ControlException(head.startsWith("ERR ") ? head.substring(4) : head);
            }
            return lines;
        }
    }

    /** The daemon refused the request. */
    public static final class ControlException extends IOException {
        private static final long serialVersionUID = 1L;

        ControlException(String message) {
            super(message);
        }
    }
}
