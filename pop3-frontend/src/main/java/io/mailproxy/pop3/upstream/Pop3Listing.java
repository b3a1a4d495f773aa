package io.mailproxy.pop3.upstream;

import io.mailproxy.pop3.codec.Pop3Command;
import io.mailproxy.pop3.codec.Pop3Data;
import io.mailproxy.pop3.codec.Pop3Response;
import io.netty.channel.Channel;
import java.util.BitSet;
import java.util.function.Consumer;
import java.util.function.IntFunction;

/**
 * A maildrop as it stood at login (RFC 1939 section 5 fixes message numbers for the session): message {@code n} is
 * index {@code n - 1}, with the size the upstream reported and a unique-id (section 7, UIDL), and the DELE marks
 * that RSET clears and QUIT applies. It answers the commands that need no upstream (STAT, LIST, UIDL, DELE, RSET,
 * NOOP) and knows nothing of where messages live: each maildrop keeps its own ids by index (an IMAP folder its UIDs,
 * with unique-ids {@code <uidvalidity>.<uid>}). Plain Java but for {@link #execute}, which writes the replies of both
 * maildrops; the session's event loop only.
 */
final class Pop3Listing {
    /** How a maildrop starts RETR or TOP of the message at an index that is there; it replies, then runs done. */
    @FunctionalInterface
    interface Fetch {
        void start(Pop3Command command, int index, Runnable done);
    }

    /** A multi-line listing goes out in pieces of about this many characters. */
    static final int CHUNK = 16 * 1024;

    private final long[] sizes;
    private final IntFunction<String> uniqueIds;
    private final BitSet deleted = new BitSet();

    /**
     * @param sizes     the size of each message, in message-number order
     * @param uniqueIds the unique-id of the message at an index
     */
    Pop3Listing(long[] sizes, IntFunction<String> uniqueIds) {
        this.sizes = sizes;
        this.uniqueIds = uniqueIds;
    }

    /** The messages at login, deleted ones included. */
    int size() {
        return sizes.length;
    }

    /** The index of message {@code number}, or -1 when there is no such message or it is marked deleted. */
    int index(int number) {
        int i = number - 1;
        return i >= 0 && i < sizes.length && !deleted.get(i) ? i : -1;
    }

    /** The messages not marked deleted. */
    int count() {
        return sizes.length - deleted.cardinality();
    }

    /** The size of the messages not marked deleted. */
    long octets() {
        long sum = 0;
        for (int i = 0; i < sizes.length; i++) {
            if (!deleted.get(i)) {
                sum += sizes[i];
            }
        }
        return sum;
    }

    /** The indexes of the messages marked deleted, ascending. */
    int[] marked() {
        return deleted.stream().toArray();
    }

    /** The text after {@code +OK} of the login reply and of RSET. */
    String greeting() {
        return "maildrop has " + count() + " messages (" + octets() + " octets)";
    }

    /**
     * The reply to STAT, NOOP, RSET, DELE, or LIST or UIDL of one message; null for the commands this cannot answer
     * alone (a whole listing, RETR, TOP, QUIT).
     */
    Pop3Response answer(Pop3Command command) {
        return switch (command.verb()) {
            case STAT -> Pop3Response.ok(count() + " " + octets());
            case NOOP -> Pop3Response.ok("");
            case RSET -> {
                deleted.clear();
                yield Pop3Response.ok(greeting());
            }
            case DELE -> {
                int i = index(command.message());
                if (i < 0) {
                    yield noSuchMessage(command.message());
                }
                deleted.set(i);
                yield Pop3Response.ok("message " + command.message() + " deleted");
            }
            case LIST, UIDL -> {
                if (command.message() == 0) {
                    yield null;
                }
                int i = index(command.message());
                yield i < 0 ? noSuchMessage(command.message())
                        : Pop3Response.ok(command.message() + " " + value(command.verb(), i));
            }
            case RETR, TOP, QUIT -> null;
        };
    }

    /** The status line of a whole LIST or UIDL listing. */
    Pop3Response scanStatus() {
        return Pop3Response.ok(count() + " messages (" + octets() + " octets)");
    }

    /**
     * The lines of a whole LIST or UIDL listing ({@code n value} CRLF, deleted messages left out), in pieces of about
     * {@link #CHUNK} characters; nothing for an empty maildrop. A piece is reused once {@code accept} returns.
     */
    void scan(Pop3Command.Verb verb, Consumer<CharSequence> piece) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < sizes.length; i++) {
            if (!deleted.get(i)) {
                b.append(i + 1).append(' ').append(value(verb, i)).append("\r\n");
                if (b.length() >= CHUNK) {
                    piece.accept(b);
                    b.setLength(0);
                }
            }
        }
        if (b.length() > 0) {
            piece.accept(b);
        }
    }

    /**
     * Runs one command of {@code maildrop} ({@link Pop3Maildrop#execute}) on {@code client}: what the listing answers
     * alone, a whole LIST or UIDL listing, {@code -ERR} for RETR or TOP of a message that is not there; RETR or TOP of
     * one that is goes to {@code fetch}, QUIT to the maildrop's {@link Pop3Maildrop#quit}.
     */
    void execute(Pop3Command command, Channel client, Runnable done, Pop3Maildrop maildrop, Fetch fetch) {
        switch (command.verb()) {
            case LIST, UIDL -> {
                if (command.message() == 0) {
                    client.write(scanStatus());
                    scan(command.verb(), piece -> client.write(Pop3Data.ascii(piece)));
                    client.writeAndFlush(Pop3Data.END).addListener(f -> done.run());
                } else {
                    reply(client, answer(command), done);
                }
            }
            case RETR, TOP -> {
                int i = index(command.message());
                if (i < 0) {
                    reply(client, noSuchMessage(command.message()), done);
                } else {
                    fetch.start(command, i, done);
                }
            }
            case QUIT -> maildrop.quit(done);
            default -> reply(client, answer(command), done);
        }
    }

    /** Writes {@code response}, then runs {@code done}. */
    static void reply(Channel client, Pop3Response response, Runnable done) {
        client.writeAndFlush(response).addListener(f -> done.run());
    }

    static Pop3Response noSuchMessage(int number) {
        return Pop3Response.err("No such message: " + number);
    }

    private String value(Pop3Command.Verb verb, int i) {
        return verb == Pop3Command.Verb.UIDL ? uniqueIds.apply(i) : Long.toString(sizes[i]);
    }
}
