package io.mailproxy.testkit;

import io.mailproxy.testkit.Office365.Right;
import io.mailproxy.testkit.Office365.Submission;
import io.mailproxy.testkit.ScriptedUpstream.Dialect;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The tenant behind an {@link Office365} fake: its mailboxes and their secrets, shared mailboxes and the rights their
 * delegates hold, app-only tokens, and the messages SMTP accepted. It decides who may log in as which mailbox, and who
 * may send as which address; the dialect scripts ({@link Office365Smtp}, {@link Office365Imap}, {@link Office365Pop3})
 * turn its answers into each protocol's replies.
 *
 * <p>Shared mailboxes follow what tenants observe, not one Microsoft page:
 * <ul>
 * <li>IMAP and POP3 accept XOAUTH2 {@code user=<shared mailbox>} with a delegate's token when the delegate has
 *     FullAccess (office-developer-exchange-docs, legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-
 *     by-using-oauth.md, "SASL XOAUTH2 authentication for shared mailboxes in Office 365"). Without FullAccess, IMAP
 *     answers AUTHENTICATE OK and then {@code BAD User is authenticated but not connected.} (MailKit #1486; some
 *     tenants answer {@code NO AUTHENTICATE failed.} instead, ImapEngine #54) and POP3 fails the login: no Microsoft
 *     documentation for either.</li>
 * <li>SMTP accepts a delegated token only with {@code user=} the token's own user: {@code user=<shared mailbox>} gets
 *     {@link Office365#SMTP_AUTH_FAILED} (nextcloud/mail #13667 and PR #13668, frappe #23079, MailKit #1770,
 *     email-oauth2-proxy PR #426). The delegate then sends {@code MAIL FROM:<shared mailbox>}, and Exchange applies
 *     SendAs at submission: without it the message is refused at the end of DATA with
 *     {@link Office365#SEND_AS_DENIED}'s text (gophish #2900 and #2670; Microsoft documents no reply for OAuth
 *     delegates).</li>
 * <li>An app-only token ({@link Office365#appOnlyToken}, or a client-credentials token of
 *     {@link Office365#identityPlatform}) logs in with {@code user=<mailbox>} on every protocol.</li>
 * </ul>
 */
final class Office365Tenant {

    /** How an XOAUTH2 login ends: logged in, logged in but every command refused (IMAP), or refused. */
    enum Bearer { OK, NOT_CONNECTED, FAILED }

    private final Map<String, String> accounts = new ConcurrentHashMap<>();
    private final List<String> messages = new CopyOnWriteArrayList<>();
    private final List<Submission> submissions = new CopyOnWriteArrayList<>();
    /** shared mailbox (lower case) -> delegate (lower case) -> rights */
    private final Map<String, Map<String, Set<Right>>> shared = new ConcurrentHashMap<>();
    private final Set<String> appTokens = ConcurrentHashMap.newKeySet();
    private volatile FakeIdentityPlatform identity;

    /** See {@link Office365#account}. */
    void account(String mailbox, String secret) {
        accounts.put(mailbox, secret);
    }

    /** See {@link Office365#sharedMailbox}. */
    void sharedMailbox(String mailbox, String delegate, Right... rights) {
        shared.computeIfAbsent(lower(mailbox), m -> new ConcurrentHashMap<>())
                .put(lower(delegate), rights.length == 0 ? Set.of() : Set.of(rights));
    }

    /** See {@link Office365#appOnlyToken}. */
    void appOnlyToken(String token) {
        appTokens.add(token);
    }

    /** See {@link Office365#identityPlatform}. */
    void identityPlatform(FakeIdentityPlatform idp) {
        this.identity = idp;
    }

    /** Records a message SMTP accepted; returns how many messages it has accepted so far. */
    int accept(Submission submission) {
        messages.add(submission.message());
        submissions.add(submission);
        return messages.size();
    }

    List<String> messages() {
        return List.copyOf(messages);
    }

    List<Submission> submissions() {
        return List.copyOf(submissions);
    }

    /** Whether {@code secret} is {@code user}'s password or token (PLAIN, LOGIN, USER/PASS). */
    boolean checkSecret(String user, String secret) {
        String expected = accounts.get(user);
        return expected != null && expected.equals(secret);
    }

    /** An XOAUTH2 login of {@code user=} with {@code token} over {@code protocol} (see the class comment). */
    Bearer bearer(Dialect protocol, String user, String token) {
        if (checkSecret(user, token) || appTokens.contains(token)) {
            return Bearer.OK;
        }
        String owner = null;
        for (Map.Entry<String, String> e : accounts.entrySet()) {
            if (e.getValue().equals(token)) {
                owner = e.getKey();
            }
        }
        FakeIdentityPlatform idp = identity;
        if (owner == null && idp != null) {
            Optional<String> delegated = idp.delegatedUser(token);
            if (delegated.isPresent()) {
                owner = delegated.get();
            } else if (idp.isValid(token, user)) {
                return Bearer.OK; // app-only: user= names the mailbox
            }
        }
        if (owner == null) {
            return Bearer.FAILED;
        }
        if (owner.equalsIgnoreCase(user)) {
            return Bearer.OK;
        }
        if (protocol == Dialect.SMTP) {
            return Bearer.FAILED; // 535 5.7.3: SMTP wants the token's own user, never the shared mailbox
        }
        Set<Right> rights = shared.getOrDefault(lower(user), Map.of()).get(lower(owner));
        if (rights == null) {
            return Bearer.FAILED;
        }
        if (rights.contains(Right.FULL_ACCESS)) {
            return Bearer.OK;
        }
        return protocol == Dialect.IMAP ? Bearer.NOT_CONNECTED : Bearer.FAILED;
    }

    /**
     * The address {@code user} may not send as (envelope sender or From:), or null: sending as a shared mailbox needs
     * SendAs unless the login was the mailbox itself (app-only). Other addresses are not checked.
     */
    String sendAsDenied(String user, String mailFrom, String message) {
        List<String> senders = new ArrayList<>();
        senders.add(mailFrom);
        int end = message.indexOf("\r\n\r\n");
        for (String line : (end < 0 ? message : message.substring(0, end)).split("\r\n")) {
            if (line.regionMatches(true, 0, "From:", 0, 5)) {
                int lt = line.indexOf('<');
                int gt = line.indexOf('>', lt + 1);
                senders.add(lt >= 0 && gt > lt ? line.substring(lt + 1, gt) : line.substring(5).trim());
            }
        }
        for (String address : senders) {
            Map<String, Set<Right>> delegates = shared.get(lower(address));
            if (delegates != null && !address.equalsIgnoreCase(user)
                    && !delegates.getOrDefault(lower(user), Set.of()).contains(Right.SEND_AS)) {
                return address;
            }
        }
        return null;
    }

    private static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }
}
