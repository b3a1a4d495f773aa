package io.mailproxy.core.upstream;

import io.mailproxy.core.config.UpstreamEndpoint.Security;
import io.mailproxy.core.credentials.UpstreamCredentials.Login;
import io.mailproxy.core.upstream.UpstreamException.Kind;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;

/**
 * IMAP login (RFC 3501, 2595 STARTTLS, 4959 SASL-IR): greeting, CAPABILITY, STARTTLS, AUTHENTICATE (or LOGIN for a
 * password where no SASL mechanism fits), CAPABILITY again unless the tagged OK carried it, and NOOP. Line-level:
 * none of these replies carries a literal.
 */
final class ImapDialogue extends LoginDialogue {

    private static final String NOT_CONNECTED = "authenticated but not connected";
    /** What "authenticated but not connected" usually means, for the log and for {@code check}. */
    static final String NOT_CONNECTED_HINT = " (Office 365 accepted the token but cannot open the mailbox: IMAP/POP disabled for it (Set-CASMailbox), no FullAccess for the app's service principal or the delegate (Add-MailboxPermission), or a transient fault on its side; retried with back-off)";
    private int tags;

    ImapDialogue(Context c) {
        super(c);
    }

    /** A tagged completion and the untagged lines before it. */
    private record Reply(String status, String text, String line, List<String> untagged) {
        boolean ok() {
            return status.equals("OK");
        }
    }

    @Override
    CompletableFuture<Void> login() {
        return read("the IMAP greeting")
                .thenCompose(g -> {
                    greeting = g;
                    String upper = g.toUpperCase(Locale.ROOT);
                    if (upper.startsWith("* BYE")) {
                        throw unchecked(new UpstreamException(Kind.UNREACHABLE, "upstream refused the connection: " + g, g, null));
                    }
                    if (!upper.startsWith("* OK")) {
                        throw unchecked(protocolError("not an IMAP greeting (need * OK)", g));
                    }
                    Optional<Set<String>> inline = capabilityCode(g);
                    return inline.isPresent() ? CompletableFuture.completedFuture(inline.get()) : capability(false);
                })
                .thenCompose(caps -> {
                    capabilities = caps;
                    return endpoint.security() == Security.STARTTLS ? starttls() : CompletableFuture.completedFuture(null);
                })
                .thenCompose(v -> credentials())
                .thenCompose(this::authenticate)
                .thenCompose(inline -> inline.isPresent() ? CompletableFuture.completedFuture(inline.get()) : capability(true))
                .thenCompose(caps -> {
                    capabilities = caps;
                    return command("NOOP", "NOOP");
                })
                .thenAccept(r -> afterLogin("NOOP", r));
    }

    private CompletableFuture<Void> starttls() {
        if (!capabilities.contains("STARTTLS")) {
            return CompletableFuture.failedFuture(new UpstreamException(Kind.TLS_FAILURE,
                    "upstream does not offer STARTTLS (capabilities: " + String.join(" ", capabilities) + ")"));
        }
        return command("STARTTLS", "STARTTLS")
                .thenCompose(r -> {
                    if (!r.ok()) {
                        throw unchecked(new UpstreamException(Kind.TLS_FAILURE, "upstream refused STARTTLS: " + r.line(), r.line(), null));
                    }
                    return startTls();
                })
                // RFC 3501 6.2.1: capabilities learned before TLS are discarded
                .thenCompose(v -> capability(false))
                .thenAccept(caps -> capabilities = caps);
    }

    private CompletableFuture<Set<String>> capability(boolean authenticated) {
        return command("CAPABILITY", "CAPABILITY").thenApply(r -> {
            if (authenticated) {
                afterLogin("CAPABILITY", r);
            } else if (!r.ok()) {
                throw unchecked(protocolError("upstream refused CAPABILITY", r.line()));
            }
            Set<String> caps = orderedSet();
            for (String u : r.untagged()) {
                if (u.toUpperCase(Locale.ROOT).startsWith("* CAPABILITY ")) {
                    caps.addAll(atoms(u.substring("* CAPABILITY ".length())));
                }
            }
            return caps;
        });
    }

    /** Office 365 sometimes answers the first commands after a good AUTHENTICATE with this BAD: back off. */
    private void afterLogin(String command, Reply r) {
        if (r.ok()) {
            return;
        }
        if (r.text().toLowerCase(Locale.ROOT).contains(NOT_CONNECTED)) {
            throw unchecked(new UpstreamException(Kind.THROTTLED, "upstream answered " + command + " after login with: "
                    + r.line() + NOT_CONNECTED_HINT, r.line(), null));
        }
        throw unchecked(protocolError("upstream refused " + command + " after login", r.line()));
    }

    private CompletableFuture<Optional<Set<String>>> authenticate(Login login) {
        Set<String> mechs = capabilities.stream().filter(c -> c.startsWith("AUTH="))
                .map(c -> c.substring(5)).collect(Collectors.toSet());
        Optional<SaslMechanism> chosen = SaslMechanism.choose(login, mechs);
        String tag = nextTag();
        if (chosen.isEmpty()) {
            Login.Password p = (Login.Password) login;
            if (capabilities.contains("LOGINDISABLED")) {
                return CompletableFuture.failedFuture(new UpstreamException(Kind.CREDENTIALS_REJECTED,
                        "upstream offers neither AUTH=PLAIN nor AUTH=LOGIN and has LOGINDISABLED: no way to log in "
                                + p.user() + " with a password"));
            }
            if (!quotable(p.user()) || !quotable(p.password())) {
                return CompletableFuture.failedFuture(new UpstreamException(Kind.CREDENTIALS_REJECTED,
                        "the user name or password holds characters IMAP LOGIN cannot quote, and the upstream offers no "
                                + "AUTH=PLAIN"));
            }
            send(tag + " LOGIN " + quote(p.user()) + " " + quote(p.password()),
                    tag + " LOGIN " + quote(p.user()) + " " + SaslMechanism.MASK);
            return saslLoop(tag, null);
        }
        SaslMechanism mech = chosen.get();
        String line = tag + " AUTHENTICATE " + mech.name();
        String logged = line;
        if (capabilities.contains("SASL-IR")) {
            Optional<String> ir = mech.initialResponse();
            if (ir.isPresent()) {
                String r = ir.get().isEmpty() ? "=" : ir.get();
                line += " " + r;
                logged += " " + masked(r);
            }
        }
        send(line, logged);
        return saslLoop(tag, mech);
    }

    private CompletableFuture<Optional<Set<String>>> saslLoop(String tag, SaslMechanism mech) {
        return read("the AUTHENTICATE reply").thenCompose(l -> {
            if (l.equals("+") || l.startsWith("+ ")) {
                if (mech == null) {
                    throw unchecked(protocolError("unexpected continuation after LOGIN", l));
                }
                String response = mech.respond(l.length() > 2 ? l.substring(2) : "");
                send(response, masked(response));
                return saslLoop(tag, mech);
            }
            if (l.startsWith(tag + " ")) {
                Reply r = parseTagged(tag, l, List.of());
                if (!r.ok()) {
                    throw unchecked(rejected(l, mech));
                }
                return CompletableFuture.completedFuture(capabilityCode(r.text()));
            }
            checkBye(l);
            return saslLoop(tag, mech);
        });
    }

    private CompletableFuture<Reply> command(String command, String logged) {
        String tag = nextTag();
        send(tag + " " + command, tag + " " + logged);
        return readTagged(tag, command, new ArrayList<>());
    }

    private CompletableFuture<Reply> readTagged(String tag, String command, List<String> untagged) {
        return read("the reply to " + command).thenCompose(l -> {
            if (l.startsWith(tag + " ")) {
                return CompletableFuture.completedFuture(parseTagged(tag, l, untagged));
            }
            if (l.startsWith("+")) {
                throw unchecked(protocolError("unexpected continuation request in reply to " + command, l));
            }
            checkBye(l);
            untagged.add(l);
            return readTagged(tag, command, untagged);
        });
    }

    private void checkBye(String line) {
        if (line.toUpperCase(Locale.ROOT).startsWith("* BYE")) {
            if (line.contains("AccessTokenExpired")) {
                throw unchecked(rejected(line, null));
            }
            throw unchecked(new UpstreamException(Kind.UNREACHABLE, "upstream ended the session: " + line, line, null));
        }
    }

    private Reply parseTagged(String tag, String line, List<String> untagged) {
        String rest = line.substring(tag.length() + 1);
        int sp = rest.indexOf(' ');
        String status = (sp < 0 ? rest : rest.substring(0, sp)).toUpperCase(Locale.ROOT);
        String text = sp < 0 ? "" : rest.substring(sp + 1);
        if (!status.equals("OK") && !status.equals("NO") && !status.equals("BAD")) {
            throw unchecked(protocolError("not an IMAP tagged reply", line));
        }
        return new Reply(status, text, line, List.copyOf(untagged));
    }

    /** The capabilities in a {@code [CAPABILITY ...]} response code, if the text starts with one. */
    static Optional<Set<String>> capabilityCode(String text) {
        int start = text.toUpperCase(Locale.ROOT).indexOf("[CAPABILITY ");
        if (start < 0) {
            return Optional.empty();
        }
        int end = text.indexOf(']', start);
        if (end < 0) {
            return Optional.empty();
        }
        Set<String> caps = orderedSet();
        caps.addAll(atoms(text.substring(start + "[CAPABILITY ".length(), end)));
        return Optional.of(caps);
    }

    private static List<String> atoms(String s) {
        List<String> out = new ArrayList<>();
        for (String a : s.trim().split(" +")) {
            if (!a.isEmpty()) {
                out.add(a.toUpperCase(Locale.ROOT));
            }
        }
        return out;
    }

    private String nextTag() {
        return "A" + (++tags);
    }

    private static boolean quotable(String s) {
        return s.chars().noneMatch(c -> c == '\r' || c == '\n' || c == 0);
    }

    private static String quote(String s) {
        return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }
}
