package io.mailproxy.core.config;

import io.mailproxy.core.Protocol;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A legacy app's local identity and its per-protocol behaviour.
 *
 * @param login        the key in {@code clients}: the user name the app sends
 * @param passwordHash Argon2id PHC string from {@code ./mailproxy hash-password}; empty only for fixed clients
 */
public record ClientConfig(
        String login,
        Optional<String> passwordHash,
        String account,
        Set<Protocol> protocols,
        ImapPolicy imap,
        Pop3Policy pop3,
        SmtpPolicy smtp) {

    public ClientConfig {
        protocols = Set.copyOf(protocols);
    }

    public boolean allows(Protocol protocol) {
        return protocols.contains(protocol);
    }

    /**
     * Whether this client reaches {@code upstream} through Microsoft Graph: POP3 from a Graph folder, or SMTP sent
     * with Graph.
     */
    public boolean usesGraph(UpstreamConfig upstream) {
        return allows(Protocol.POP3) && pop3.source() == Pop3Policy.Source.GRAPH
                || allows(Protocol.SMTP) && upstream.sending() == UpstreamConfig.Sending.GRAPH;
    }

    /** @param folders allow-list of mailbox names (empty = all) */
    public record ImapPolicy(boolean readOnly, List<String> folders) {
        public ImapPolicy {
            folders = List.copyOf(folders);
        }
        public static final ImapPolicy DEFAULT = new ImapPolicy(false, List.of());
    }

    /**
     * @param folder for {@code source = graph}: a well-known Graph folder name ({@code inbox}, {@code archive}; the
     *               default {@code INBOX} and IMAP's special-use names are mapped to them when bound) or a path
     */
    public record Pop3Policy(Source source, String folder, boolean onlyUnseen, OnDelete onDelete) {
        public enum Source { POP3, IMAP, GRAPH }
        public static final Pop3Policy DEFAULT = new Pop3Policy(Source.POP3, "INBOX", false, OnDelete.EXPUNGE);
    }

    /**
     * What DELE does at QUIT when the source is IMAP or Graph. {@code moveTo} holds the folder for MOVE (for
     * {@code source = graph}, a special-use name is already Graph's well-known name: {@code \\Trash} is
     * {@code deleteditems}).
     */
    public record OnDelete(Kind kind, Optional<String> moveTo) {
        public enum Kind { EXPUNGE, KEEP, SEEN, MOVE }
        public static final OnDelete EXPUNGE = new OnDelete(Kind.EXPUNGE, Optional.empty());

        public static OnDelete parse(String text) {
            if (text.startsWith("move:")) {
                String folder = text.substring("move:".length());
                if (folder.isEmpty()) {
                    throw new IllegalArgumentException("move: needs a folder, e.g. \"move:\\\\Trash\"");
                }
                return new OnDelete(Kind.MOVE, Optional.of(folder));
            }
            return switch (text) {
                case "expunge" -> EXPUNGE;
                case "keep" -> new OnDelete(Kind.KEEP, Optional.empty());
                case "seen" -> new OnDelete(Kind.SEEN, Optional.empty());
                default -> throw new IllegalArgumentException(
                        "expected expunge, keep, seen or move:FOLDER, got \"" + text + "\"");
            };
        }
    }

    /**
     * @param maxSize      largest message accepted (bytes), 0 = the listener's default
     * @param originalFrom where the original From goes when rewriting: REPLY_TO (when none) or DROP
     */
    public record SmtpPolicy(Sender sender, OriginalFrom originalFrom, long maxSize, boolean queue) {
        public enum Sender { KEEP, REWRITE }
        public enum OriginalFrom { REPLY_TO, DROP }
        public static final SmtpPolicy DEFAULT = new SmtpPolicy(Sender.KEEP, OriginalFrom.REPLY_TO, 0, false);
    }
}
