package io.mailproxy.smtp.queue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * What a queued message is sent with, written once when the message is accepted and never changed.
 *
 * @param mailFrom   the reverse-path sent upstream (the account's {@code from} when the client's sender is
 *                   rewritten); empty for the null sender {@code <>}
 * @param clientFrom the reverse-path the client gave
 * @param parameters MAIL parameters to pass on when the upstream offers them: {@code BODY=8BITMIME}, {@code SMTPUTF8}
 * @param size       octets of the stored message (dot-stuffed, as sent upstream)
 */
public record Envelope(String id, String account, String client, String mailFrom, String clientFrom,
                       List<String> parameters, List<String> recipients, Instant received, long size) {

    private static final String MAGIC = "mailproxy-envelope 1";

    public Envelope {
        parameters = List.copyOf(parameters);
        recipients = List.copyOf(recipients);
        for (String s : List.of(id, account, client, mailFrom, clientFrom)) {
            check(s);
        }
        parameters.forEach(Envelope::check);
        recipients.forEach(Envelope::check);
    }

    private static void check(String value) {
        if (value.indexOf('\r') >= 0 || value.indexOf('\n') >= 0) {
            throw new IllegalArgumentException("line break in an envelope field");
        }
    }

    byte[] encode() {
        StringBuilder sb = new StringBuilder(MAGIC).append('\n');
        sb.append("id ").append(id).append('\n');
        sb.append("account ").append(account).append('\n');
        sb.append("client ").append(client).append('\n');
        sb.append("from ").append(mailFrom).append('\n');
        sb.append("client-from ").append(clientFrom).append('\n');
        parameters.forEach(p -> sb.append("param ").append(p).append('\n'));
        sb.append("received ").append(received).append('\n');
        sb.append("size ").append(size).append('\n');
        recipients.forEach(r -> sb.append("rcpt ").append(r).append('\n'));
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    static Envelope decode(byte[] bytes) throws IOException {
        String[] lines = new String(bytes, StandardCharsets.UTF_8).split("\n");
        if (lines.length == 0 || !lines[0].equals(MAGIC)) {
            throw new IOException("not a mailproxy envelope");
        }
        String id = null, account = null, client = null, from = null, clientFrom = null;
        Instant received = null;
        long size = -1;
        List<String> params = new ArrayList<>();
        List<String> rcpts = new ArrayList<>();
        for (int i = 1; i < lines.length; i++) {
            String line = lines[i];
            int sp = line.indexOf(' ');
            String key = sp < 0 ? line : line.substring(0, sp);
            String value = sp < 0 ? "" : line.substring(sp + 1);
            switch (key) {
                case "id" -> id = value;
                case "account" -> account = value;
                case "client" -> client = value;
                case "from" -> from = value;
                case "client-from" -> clientFrom = value;
                case "param" -> params.add(value);
                case "received" -> received = Instant.parse(value);
                case "size" -> size = Long.parseLong(value);
                case "rcpt" -> rcpts.add(value);
                default -> { } // a newer field: ignored
            }
        }
        if (id == null || account == null || client == null || from == null || clientFrom == null || received == null
                || size < 0 || rcpts.isEmpty()) {
            throw new IOException("incomplete envelope");
        }
        return new Envelope(id, account, client, from, clientFrom, params, rcpts, received, size);
    }
}
