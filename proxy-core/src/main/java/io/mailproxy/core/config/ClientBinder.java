package io.mailproxy.core.config;

import io.mailproxy.core.AdminCommand;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.identity.PasswordHasher;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Binds one entry of {@code clients}: the local login, its Argon2id password hash, the account it acts for, the
 * protocols it may use and its IMAP, POP3 and SMTP policies.
 */
final class ClientBinder {

    private ClientBinder() {
    }

    static ClientConfig bind(Node n, String login) {
        n.checkAddress("", login);
        Optional<String> hash = n.optString("password", "an Argon2id hash from " + AdminCommand.of("hash-password"));
        if (hash.isPresent()) {
            try {
                PasswordHasher.memoryKiB(hash.get());
            } catch (IllegalArgumentException e) {
                // never echo the value: it may be a plaintext password put here by mistake
                throw n.error("password", "expected an Argon2id hash from " + AdminCommand.of("hash-password") + " "
                        + "($argon2id$v=19$m=...,t=...,p=...$salt$hash); " + e.getMessage());
            }
        }
        String account = n.string("account", "the name of an account (a key of accounts)");
        Set<Protocol> protocols = new HashSet<>();
        for (String p : n.stringList("protocols", "protocols (imap, pop3, smtp)")) {
            try {
                protocols.add(Protocol.fromConfigName(p.trim()));
            } catch (IllegalArgumentException e) {
                throw n.error("protocols", "expected a list of imap, pop3, smtp, not \"" + p + "\"");
            }
        }
        if (protocols.isEmpty()) {
            throw n.error("protocols", "expected at least one of imap, pop3, smtp");
        }
        Node imap = n.child("imap");
        ClientConfig.ImapPolicy imapPolicy = new ClientConfig.ImapPolicy(imap.bool("read-only"),
                imap.stringList("folders", "mailbox names"));
        Node pop3 = n.child("pop3");
        ClientConfig.Pop3Policy.Source source = pop3.enumValue("source", ClientConfig.Pop3Policy.Source.class);
        String folder = pop3.string("folder", "a folder name such as INBOX");
        boolean onlyUnseen = pop3.bool("only-unseen");
        ClientConfig.OnDelete onDelete;
        String onDeleteText = pop3.string("on-delete", "expunge, keep, seen or \"move:FOLDER\"");
        try {
            onDelete = ClientConfig.OnDelete.parse(onDeleteText.trim());
        } catch (IllegalArgumentException e) {
            throw pop3.error("on-delete", e.getMessage());
        }
        if (source == ClientConfig.Pop3Policy.Source.GRAPH) {
            folder = graphFolder(folder).orElseThrow(() -> pop3.error("folder", noGraphFolder(
                    pop3.string("folder", "a folder"))));
            if (onDelete.kind() == ClientConfig.OnDelete.Kind.MOVE) {
                String to = onDelete.moveTo().orElseThrow();
                onDelete = new ClientConfig.OnDelete(ClientConfig.OnDelete.Kind.MOVE, Optional.of(graphFolder(to)
                        .orElseThrow(() -> pop3.error("on-delete", noGraphFolder(to)))));
            }
        }
        Node smtp = n.child("smtp");
        ClientConfig.SmtpPolicy smtpPolicy = new ClientConfig.SmtpPolicy(
                smtp.enumValue("sender", ClientConfig.SmtpPolicy.Sender.class),
                smtp.enumValue("original-from", ClientConfig.SmtpPolicy.OriginalFrom.class),
                smtp.bytes("max-size"), smtp.bool("queue"));
        return new ClientConfig(login, hash, account, protocols, imapPolicy,
                new ClientConfig.Pop3Policy(source, folder, onlyUnseen, onDelete), smtpPolicy);
    }

    /**
     * IMAP's special-use names (RFC 6154) that have a Microsoft Graph well-known folder (mailFolder resource:
     * "Well-known folder names"), so that a configuration written for {@code source = imap} means the same folder
     * with {@code source = graph}.
     */
    private static final Map<String, String> SPECIAL_USE_TO_GRAPH = Map.of("\\trash", "deleteditems",
            "\\archive", "archive", "\\sent", "sentitems", "\\drafts", "drafts", "\\junk", "junkemail");

    /**
     * The folder {@code source = graph} uses for {@code folder}: IMAP's {@code INBOX} (any case) is Graph's
     * {@code inbox}; a special-use name with a Graph counterpart is mapped; another special-use name
     * ({@code \\All}, {@code \\Flagged}) has none (empty); anything else is a well-known name or a path as given.
     */
    static Optional<String> graphFolder(String folder) {
        String f = folder.trim();
        if (f.equalsIgnoreCase("INBOX")) {
            return Optional.of("inbox");
        }
        if (f.startsWith("\\")) {
            return Optional.ofNullable(SPECIAL_USE_TO_GRAPH.get(f.toLowerCase(Locale.ROOT)));
        }
        return Optional.of(f);
    }

    private static String noGraphFolder(String folder) {
        return folder + " has no Microsoft Graph folder; expected a well-known folder name (inbox, archive,"
                + " deleteditems, sentitems, drafts, junkemail; \\Trash, \\Archive, \\Sent, \\Drafts and \\Junk are"
                + " mapped to them) or a folder path such as \"Inbox/Reports\"";
    }
}
