package io.mailproxy.daemon.check;

import io.mailproxy.core.AdminCommand;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.config.UpstreamConfig;
import io.mailproxy.core.credentials.UpstreamCredentials;
import io.mailproxy.core.graph.GraphException;
import io.mailproxy.core.graph.GraphMail;
import io.mailproxy.core.graph.MimeSource;
import io.mailproxy.core.upstream.UpstreamException;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@code check}'s Microsoft Graph probe, for every account a client reaches through Graph: a Graph token (the token
 * endpoint down, consent or a permission missing each give their own row), then one call per protocol that needs the
 * permission the proxy relies on, without sending mail. POP3 ({@code source = graph}) lists the first page of each
 * configured folder (the call a POP3 session makes first). SMTP ({@code send-with = graph}) creates a MIME draft and
 * deletes it (Mail.ReadWrite, which a message with Bcc recipients or too big for one request needs); Mail.Send itself
 * shows only when mail is sent, since access tokens are opaque (DESIGN: never parsed) and Graph has no call that needs
 * Mail.Send without sending. The rows are {@link UpstreamCheck}'s, the endpoint column the Graph base URL.
 */
public final class GraphCheck {

    /** The draft the SMTP probe creates and deletes at once; it has no recipient, so it can never go out. */
    private static final byte[] PROBE_DRAFT = ("Subject: mailproxy check (draft, deleted at once)\r\n"
            + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            + "Created by mailproxy check to test the Graph permission; deleted at once.\r\n")
            .getBytes(StandardCharsets.US_ASCII);

    private final UpstreamCredentials credentials;
    private final GraphMail graph;

    public GraphCheck(UpstreamCredentials credentials, GraphMail graph) {
        this.credentials = credentials;
        this.graph = graph;
    }

    public List<UpstreamCheck.Row> run(MailproxyConfig config, Duration timeout) {
        List<UpstreamCheck.Row> rows = new ArrayList<>();
        for (AccountConfig account : config.accounts().values().stream()
                .sorted((a, b) -> a.name().compareTo(b.name())).toList()) {
            UpstreamConfig upstream = config.upstreams().get(account.upstream());
            if (upstream == null || upstream.graph().isEmpty() || !config.usesGraph(account.name())) {
                continue;
            }
            URI base = upstream.graph().get();
            List<ClientConfig> clients = config.clients().values().stream()
                    .filter(c -> c.account().equals(account.name()) && c.usesGraph(upstream)).toList();
            Set<String> folders = new LinkedHashSet<>();
            boolean sends = false;
            for (ClientConfig c : clients) {
                if (c.allows(Protocol.POP3) && c.pop3().source() == ClientConfig.Pop3Policy.Source.GRAPH) {
                    folders.add(c.pop3().folder());
                }
                sends |= c.allows(Protocol.SMTP) && upstream.sending() == UpstreamConfig.Sending.GRAPH;
            }
            String where = base.toString();
            Optional<String> tokenProblem = token(account, base, timeout);
            if (tokenProblem.isPresent()) {
                if (sends) {
                    rows.add(new UpstreamCheck.Row(account.name(), Protocol.SMTP, where, false, tokenProblem.get()));
                }
                if (!folders.isEmpty()) {
                    rows.add(new UpstreamCheck.Row(account.name(), Protocol.POP3, where, false, tokenProblem.get()));
                }
                continue;
            }
            if (sends) {
                rows.add(probeDraft(account, where, timeout));
            }
            if (!folders.isEmpty()) {
                rows.add(probeFolders(account, folders, where, timeout));
            }
        }
        return rows;
    }

    /** Empty when a Graph token came; else why not, in words an administrator can act on. */
    private Optional<String> token(AccountConfig account, URI base, Duration timeout) {
        try {
            credentials.graphToken(account, base).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return Optional.empty();
        } catch (TimeoutException e) {
            return Optional.of("no Graph token within " + timeout.toSeconds() + " s (is the token endpoint reachable?)");
        } catch (ExecutionException | CompletionException e) {
            return Optional.of("no Graph token: " + explainToken(account, e.getCause()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.of("interrupted");
        }
    }

    static String explainToken(AccountConfig account, Throwable failure) {
        String text = failure == null ? "failed" : failure instanceof UpstreamException u
                ? u.kind().name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ') + ": " + u.getMessage()
                : failure.toString();
        boolean appOnly = account.auth() instanceof AuthConfig.OAuth2 o
                && o.grant() == AuthConfig.Grant.CLIENT_CREDENTIALS;
        if (text.contains("AADSTS65001") || text.contains("consent_required")) {
            text += appOnly ? " — an administrator must grant admin consent to the application permissions"
                    + " (Mail.Send, Mail.ReadWrite) in Entra ID; see docs/OFFICE365.md"
                    : " — Graph was not consented at sign-in: run " + AdminCommand.of("login " + account.name());
        } else if (text.contains("AADSTS7000215") || text.contains("AADSTS700016")) {
            text += " — check the app registration's client id and secret or certificate";
        }
        return text;
    }

    private UpstreamCheck.Row probeDraft(AccountConfig account, String where, Duration timeout) {
        try {
            String id = graph.createMimeDraft(account, new Probe()).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            graph.delete(account, id).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return new UpstreamCheck.Row(account.name(), Protocol.SMTP, where, true, "Graph token obtained; a draft"
                    + " was created and deleted (Mail.ReadWrite); Mail.Send shows with the first message sent");
        } catch (TimeoutException e) {
            return new UpstreamCheck.Row(account.name(), Protocol.SMTP, where, false, "Graph did not answer within "
                    + timeout.toSeconds() + " s");
        } catch (ExecutionException | CompletionException e) {
            return new UpstreamCheck.Row(account.name(), Protocol.SMTP, where, false, "creating a draft: "
                    + explain(e.getCause(), "Mail.ReadWrite (needed for Bcc recipients and messages too big for one"
                    + " request; plain messages may still go with Mail.Send alone)"));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new UpstreamCheck.Row(account.name(), Protocol.SMTP, where, false, "interrupted");
        }
    }

    private UpstreamCheck.Row probeFolders(AccountConfig account, Set<String> folders, String where,
                                           Duration timeout) {
        List<String> seen = new ArrayList<>();
        for (String folder : folders) {
            try {
                int n = graph.list(account, folder, false, Optional.empty())
                        .get(timeout.toMillis(), TimeUnit.MILLISECONDS).messages().size();
                seen.add(folder + " (" + n + (n == 1 ? " message" : " messages") + " on the first page)");
            } catch (TimeoutException e) {
                return new UpstreamCheck.Row(account.name(), Protocol.POP3, where, false, "listing " + folder
                        + ": Graph did not answer within " + timeout.toSeconds() + " s");
            } catch (ExecutionException | CompletionException e) {
                return new UpstreamCheck.Row(account.name(), Protocol.POP3, where, false, "listing " + folder + ": "
                        + explain(e.getCause(), "Mail.ReadWrite"));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new UpstreamCheck.Row(account.name(), Protocol.POP3, where, false, "interrupted");
            }
        }
        return new UpstreamCheck.Row(account.name(), Protocol.POP3, where, true, "Graph token obtained; listed "
                + String.join(", ", seen));
    }

    /** Graph's own status and error code, and what to do about them. */
    static String explain(Throwable failure, String permission) {
        if (!(failure instanceof GraphException g)) {
            return failure == null ? "failed" : failure.toString();
        }
        String said = "Graph answered " + (g.status() == 0 ? "nothing" : g.status() + (g.code().isEmpty() ? ""
                : " " + g.code())) + ": " + g.getMessage();
        return switch (g.kind()) {
            case NOT_AUTHORISED -> said + " — the app lacks " + permission + " for this mailbox, or the mailbox is"
                    + " outside its RBAC for Applications scope or application access policy (docs/OFFICE365.md)";
            case NOT_FOUND -> said + " — no such mailbox or folder (a folder is a well-known name such as inbox, or a"
                    + " path of display names)";
            case THROTTLED -> said + " — Graph is throttling this app and mailbox; try again later";
            default -> said;
        };
    }

    /** The probe draft's MIME. */
    private static final class Probe implements MimeSource {
        @Override
        public long size() {
            return PROBE_DRAFT.length;
        }

        @Override
        public InputStream open() {
            return new ByteArrayInputStream(PROBE_DRAFT);
        }
    }
}
