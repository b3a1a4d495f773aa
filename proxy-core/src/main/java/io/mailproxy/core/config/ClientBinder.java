package io.mailproxy.core.config;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.identity.PasswordHasher;
import java.util.HashSet;
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
        Optional<String> hash = n.optString("password", "an Argon2id hash from ./mailproxy hash-password");
        if (hash.isPresent()) {
            try {
                PasswordHasher.memoryKiB(hash.get());
            } catch (IllegalArgumentException e) {
                // never echo the value: it may be a plaintext password put here by mistake
                throw n.error("password", "expected an Argon2id hash from ./mailproxy hash-password "
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
        Node smtp = n.child("smtp");
        ClientConfig.SmtpPolicy smtpPolicy = new ClientConfig.SmtpPolicy(
                smtp.enumValue("sender", ClientConfig.SmtpPolicy.Sender.class),
                smtp.enumValue("original-from", ClientConfig.SmtpPolicy.OriginalFrom.class),
                smtp.bytes("max-size"), smtp.bool("queue"));
        return new ClientConfig(login, hash, account, protocols, imapPolicy,
                new ClientConfig.Pop3Policy(source, folder, onlyUnseen, onDelete), smtpPolicy);
    }
}
