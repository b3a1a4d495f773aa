package io.mailproxy.daemon.check;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.config.UpstreamConfig;
import io.mailproxy.core.config.UpstreamEndpoint;
import io.mailproxy.core.upstream.UpstreamConnector;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.core.upstream.UpstreamSession;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Logs in to every account's upstream endpoints (all at once, each on a fresh connection, never the pool), compares
 * the upstream's capabilities with what the configuration needs from it, and explains each failure.
 */
public final class UpstreamCheck {

    /** One line of the table. */
    public record Row(String account, Protocol protocol, String endpoint, boolean ok, String detail) { }

    private final UpstreamConnector connector;

    public UpstreamCheck(UpstreamConnector connector) {
        this.connector = connector;
    }

    public List<Row> run(MailproxyConfig config, Duration timeout) {
        record Pending(AccountConfig account, Protocol protocol, UpstreamEndpoint endpoint,
                       CompletableFuture<UpstreamSession> session) { }
        List<Pending> pending = new ArrayList<>();
        List<Row> rows = new ArrayList<>();
        for (AccountConfig account : config.accounts().values().stream()
                .sorted((a, b) -> a.name().compareTo(b.name())).toList()) {
            UpstreamConfig upstream = config.upstreams().get(account.upstream());
            for (Protocol protocol : Protocol.values()) {
                Optional<UpstreamEndpoint> endpoint = upstream.endpoint(protocol);
                if (endpoint.isEmpty()
                        || protocol == Protocol.SMTP && upstream.sending() == UpstreamConfig.Sending.GRAPH) {
                    continue; // SMTP through Graph: GraphCheck probes it; SMTP AUTH may well be off for the tenant
                }
                CompletableFuture<UpstreamSession> f;
                try {
                    f = connector.connect(account, protocol, null);
                } catch (RuntimeException e) {
                    f = CompletableFuture.failedFuture(e);
                }
                pending.add(new Pending(account, protocol, endpoint.get(), f));
            }
        }
        for (Pending p : pending) {
            String where = p.endpoint().toUrl();
            try {
                UpstreamSession session = p.session().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                try {
                    List<String> problems = capabilityProblems(config, p.account(), p.protocol(), session);
                    rows.add(new Row(p.account().name(), p.protocol(), where, problems.isEmpty(),
                            problems.isEmpty() ? summary(session) : String.join("; ", problems)));
                } finally {
                    session.channel().close();
                }
            } catch (TimeoutException e) {
                p.session().thenAccept(s -> s.channel().close());
                rows.add(new Row(p.account().name(), p.protocol(), where, false,
                        "no answer within " + timeout.toSeconds() + " s"));
            } catch (ExecutionException | CompletionException e) {
                rows.add(new Row(p.account().name(), p.protocol(), where, false, explain(e.getCause())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                rows.add(new Row(p.account().name(), p.protocol(), where, false, "interrupted"));
            }
        }
        return rows;
    }

    private static String summary(UpstreamSession session) {
        return "logged in" + session.tokenExpiresAt().map(t -> ", token valid until " + t).orElse("")
                + "; " + session.capabilities().size() + " capabilities";
    }

    /** What the configuration needs from this upstream that it does not offer. */
    static List<String> capabilityProblems(MailproxyConfig config, AccountConfig account, Protocol protocol,
                                           UpstreamSession session) {
        List<String> problems = new ArrayList<>();
        List<ClientConfig> clients = config.clients().values().stream()
                .filter(c -> c.account().equals(account.name())).toList();
        switch (protocol) {
            case IMAP -> {
                for (ClientConfig c : clients) {
                    if (!c.allows(Protocol.POP3) || c.pop3().source() != ClientConfig.Pop3Policy.Source.IMAP) {
                        continue;
                    }
                    ClientConfig.OnDelete.Kind kind = c.pop3().onDelete().kind();
                    if ((kind == ClientConfig.OnDelete.Kind.EXPUNGE || kind == ClientConfig.OnDelete.Kind.MOVE
                            && !session.hasCapability("MOVE")) && !session.hasCapability("UIDPLUS")) {
                        problems.add("client " + c.login() + ": pop3 on-delete = " + kind.name().toLowerCase(Locale.ROOT)
                                + " needs UIDPLUS (UID EXPUNGE), which this upstream does not offer");
                    }
                }
                if (!session.hasCapability("IMAP4REV1") && !session.hasCapability("IMAP4REV2")) {
                    problems.add("the upstream does not speak IMAP4rev1");
                }
            }
            case SMTP -> {
                // judged by what the SMTP listeners are configured to advertise (mailproxy.smtp.8bitmime and
                // .smtputf8): a listener that does not offer an extension never takes mail that needs it upstream
                for (String ext : List.of("8BITMIME", "SMTPUTF8")) {
                    if (smtpListenersAdvertise(config, ext) && !session.hasCapability(ext)) {
                        problems.add("the listeners advertise " + ext + " but the upstream does not: 8-bit or UTF-8 "
                                + "mail from clients would be refused upstream (set mailproxy.smtp."
                                + ext.toLowerCase(Locale.ROOT) + " = false to stop advertising it)");
                    }
                }
            }
            case POP3 -> {
                for (ClientConfig c : clients) {
                    if (c.allows(Protocol.POP3) && c.pop3().source() == ClientConfig.Pop3Policy.Source.POP3
                            && !session.hasCapability("UIDL")) {
                        problems.add("client " + c.login() + " passes POP3 through but the upstream lacks UIDL");
                    }
                }
            }
            default -> { }
        }
        return problems;
    }

    /** Whether the SMTP listeners offer {@code ext} to clients ({@code mailproxy.smtp}'s key of that name). */
    private static boolean smtpListenersAdvertise(MailproxyConfig config, String ext) {
        String key = ext.toLowerCase(Locale.ROOT);
        try {
            com.typesafe.config.Config smtp = config.section("smtp");
            return !smtp.hasPath(key) || smtp.getBoolean(key);
        } catch (com.typesafe.config.ConfigException e) {
            return true; // no smtp section (a configuration without the SMTP frontend): judge as before
        }
    }

    /** The failure in words an administrator can act on, with the upstream's own reply. */
    static String explain(Throwable failure) {
        if (!(failure instanceof UpstreamException e)) {
            return failure == null ? "failed" : failure.toString();
        }
        String reply = e.upstreamReply().orElse("");
        String detail = e.kind().name().toLowerCase(Locale.ROOT).replace('_', ' ') + ": " + e.getMessage();
        if (reply.contains("5.7.139")) {
            String scope = reply.toLowerCase(Locale.ROOT).contains("for the tenant") ? "for the whole tenant"
                    : reply.toLowerCase(Locale.ROOT).contains("for the mailbox") ? "for this mailbox"
                    : "by security defaults or a policy (the reply does not say which)";
            detail += " — SMTP AUTH is disabled " + scope + "; see docs/OFFICE365.md §3";
        } else if (reply.contains("5.7.30")) {
            detail += " — Office 365 refuses passwords for SMTP submission: use auth.type = oauth2";
        } else if (reply.contains("5.7.3") || reply.contains("AUTHENTICATE failed")) {
            detail += " — the token was refused for this mailbox: check the service principal, mailbox permission "
                    + "or delegate access (docs/OFFICE365.md)";
        }
        if (!reply.isEmpty() && !e.getMessage().contains(reply)) {
            detail += " (upstream said: " + reply + ")";
        }
        return detail;
    }

    /** The rows as an aligned text table. */
    public static List<String> table(List<Row> rows) {
        List<String[]> cells = new ArrayList<>();
        cells.add(new String[] {"ACCOUNT", "PROTOCOL", "UPSTREAM", "RESULT", "DETAIL"});
        for (Row r : rows) {
            cells.add(new String[] {r.account(), r.protocol().configName(), r.endpoint(), r.ok() ? "ok" : "FAIL",
                r.detail()});
        }
        int[] width = new int[4];
        for (String[] c : cells) {
            for (int i = 0; i < 4; i++) {
                width[i] = Math.max(width[i], c[i].length());
            }
        }
        List<String> out = new ArrayList<>();
        for (String[] c : cells) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < 4; i++) {
                b.append(String.format("%-" + width[i] + "s  ", c[i]));
            }
            out.add(b.append(c[4]).toString());
        }
        return out;
    }
}
