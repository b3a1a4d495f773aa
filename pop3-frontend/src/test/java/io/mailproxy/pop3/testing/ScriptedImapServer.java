package io.mailproxy.pop3.testing;

import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Pattern;

/**
 * A loopback IMAP server that answers from a script: for each command (tag stripped) the first rule whose regex
 * matches gives the reply lines, where {@code $TAG} stands for the command's tag; the reply {@code CLOSE} (alone, or as the
 * last line) drops the connection. Unmatched commands get {@code $TAG OK done}. Written as C:/S: pairs, in the spirit of Angus TestServer.
 */
public final class ScriptedImapServer implements Closeable {

    public static final String CLOSE = "CLOSE";

    private final ServerSocket server;
    private final Map<Pattern, String> rules = new LinkedHashMap<>();
    public final List<String> commands = new CopyOnWriteArrayList<>();
    private final List<Socket> open = new CopyOnWriteArrayList<>();
    private final Thread thread;

    public ScriptedImapServer() throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        rules.put(Pattern.compile("LOGIN .*"), "$TAG OK LOGIN completed.");
        thread = new Thread(this::serve, "scripted-imap");
        thread.setDaemon(true);
        thread.start();
    }

    /** Adds a rule (checked in insertion order, before the built-in LOGIN rule only if added first). */
    public ScriptedImapServer on(String regex, String... replyLines) {
        Map<Pattern, String> copy = new LinkedHashMap<>();
        copy.put(Pattern.compile(regex), String.join("\r\n", replyLines));
        synchronized (rules) {
            copy.putAll(rules);
            rules.clear();
            rules.putAll(copy);
        }
        return this;
    }

    public int port() {
        return server.getLocalPort();
    }

    private void serve() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                Thread t = new Thread(() -> session(s), "scripted-imap-session");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    /** Sends {@code untagged} on every open connection and closes it (a server ending sessions on its own). */
    public void dropAll(String untagged) {
        for (Socket s : open) {
            try {
                s.getOutputStream().write((untagged + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                s.close();
            } catch (IOException e) {
                // already gone
            }
        }
    }

    private void session(Socket socket) {
        open.add(socket);
        try (socket) {
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.ISO_8859_1));
            OutputStream out = socket.getOutputStream();
            out.write("* OK scripted IMAP ready\r\n".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            String line;
            while ((line = in.readLine()) != null) {
                int sp = line.indexOf(' ');
                String tag = sp < 0 ? line : line.substring(0, sp);
                String command = sp < 0 ? "" : line.substring(sp + 1);
                commands.add(command);
                String reply = null;
                synchronized (rules) {
                    for (Map.Entry<Pattern, String> r : rules.entrySet()) {
                        if (r.getKey().matcher(command).matches()) {
                            reply = r.getValue();
                            break;
                        }
                    }
                }
                if (reply == null) {
                    reply = "$TAG OK done";
                }
                if (reply.equals(CLOSE)) {
                    return;
                }
                boolean close = reply.endsWith("\r\n" + CLOSE);
                if (close) {
                    reply = reply.substring(0, reply.length() - CLOSE.length() - 2);
                }
                out.write((reply.replace("$TAG", tag) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
                if (close) {
                    return;
                }
            }
        } catch (IOException e) {
            // the peer went away
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
