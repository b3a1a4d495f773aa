package io.mailproxy.pop3.testing;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A blocking, minimal IMAP client for checking an upstream's state directly (not through the proxy). */
public final class RawImap implements Closeable {
    private static final Pattern LITERAL = Pattern.compile("\\{(\\d+)\\}\r\n$");

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private int tag;

    public RawImap(int port, String user, String password) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(15_000);
        in = new java.io.BufferedInputStream(socket.getInputStream());
        out = socket.getOutputStream();
        readResponse();
        command("LOGIN \"" + user + "\" \"" + password + "\"");
    }

    /** Runs a command; returns its untagged responses (literals inline); fails unless it ends OK. */
    public List<String> command(String command) throws IOException {
        String t = "t" + (++tag);
        out.write((t + " " + command + "\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        List<String> untagged = new ArrayList<>();
        while (true) {
            byte[] r = readResponse();
            String s = new String(r, StandardCharsets.ISO_8859_1);
            if (s.startsWith(t + " ")) {
                if (!s.startsWith(t + " OK")) {
                    throw new IOException(command + " -> " + s);
                }
                return untagged;
            }
            untagged.add(s);
        }
    }

    public void append(String folder, byte[] message) throws IOException {
        String t = "t" + (++tag);
        out.write((t + " APPEND " + folder + " {" + message.length + "}\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        byte[] cont = readResponse();
        if (cont[0] != '+') {
            throw new IOException("APPEND: " + new String(cont, StandardCharsets.ISO_8859_1));
        }
        out.write(message);
        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        while (true) {
            String s = new String(readResponse(), StandardCharsets.ISO_8859_1);
            if (s.startsWith(t + " ")) {
                if (!s.startsWith(t + " OK")) {
                    throw new IOException("APPEND -> " + s);
                }
                return;
            }
        }
    }

    /** BODY[] of a message in the selected folder, exactly as the server sends it. */
    public byte[] body(long uid) throws IOException {
        for (String r : command("UID FETCH " + uid + " BODY.PEEK[]")) {
            Matcher m = Pattern.compile("BODY\\[\\] \\{(\\d+)\\}\r\n").matcher(r);
            if (m.find()) {
                int n = Integer.parseInt(m.group(1));
                return r.substring(m.end(), m.end() + n).getBytes(StandardCharsets.ISO_8859_1);
            }
        }
        throw new IOException("no BODY[] for UID " + uid);
    }

    /** A whole response: lines, with literals inline. */
    private byte[] readResponse() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        while (true) {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) != -1) {
                line.write(c);
                if (c == '\n') {
                    break;
                }
            }
            if (c == -1) {
                throw new IOException("connection closed");
            }
            b.writeBytes(line.toByteArray());
            Matcher m = LITERAL.matcher(new String(line.toByteArray(), StandardCharsets.ISO_8859_1));
            if (!m.find()) {
                return b.toByteArray();
            }
            b.writeBytes(in.readNBytes(Integer.parseInt(m.group(1))));
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
