package io.mailproxy.core.upstream;

import io.mailproxy.core.config.UpstreamEndpoint.Security;
import io.mailproxy.core.credentials.UpstreamCredentials.Login;
import io.mailproxy.core.upstream.UpstreamException.Kind;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * SMTP submission login (RFC 5321, 3207 STARTTLS, 4954 AUTH, 2034 enhanced codes): greeting, EHLO, STARTTLS, EHLO
 * again, AUTH with an initial response (LOGIN by challenges), NOOP. Office 365's throttling and quota replies are
 * typed: {@code 432 4.3.2} and {@code 550 5.2.251}-{@code 255} throttle, {@code 554 5.2.0} is the daily quota.
 */
final class SmtpDialogue extends LoginDialogue {

    private static final Pattern REPLY = Pattern.compile("^([2-5][0-9][0-9])([ -]|$)(.*)$");
    private static final Pattern THROTTLE_550 = Pattern.compile("^5\\.2\\.25[1-5]\\b.*");

    SmtpDialogue(Context c) {
        super(c);
    }

    /** A complete (possibly multi-line) reply: its code and every line's text after the code. */
    record Reply(int code, List<String> lines) {
        String last() {
            return lines.get(lines.size() - 1);
        }

        /** The whole reply as the upstream wrote it, lines joined with " / ". */
        String text() {
            List<String> out = new ArrayList<>();
            for (String l : lines) {
                out.add(code + (l.isEmpty() ? "" : " " + l));
            }
            return String.join(" / ", out);
        }
    }

    @Override
    CompletableFuture<Void> login() {
        return reply("the SMTP greeting")
                .thenCompose(g -> {
                    greeting = g.code() + " " + g.last();
                    if (g.code() != 220) {
                        UpstreamException f = failure(g, "greeting", false);
                        throw unchecked(f.kind() != Kind.PROTOCOL_ERROR ? f : new UpstreamException(Kind.UNREACHABLE,
                                "upstream refused the connection: " + g.text(), g.text(), null));
                    }
                    return ehlo();
                })
                .thenCompose(v -> endpoint.security() == Security.STARTTLS ? starttls() : CompletableFuture.completedFuture(null))
                .thenCompose(v -> credentials())
                .thenCompose(this::authenticate)
                .thenCompose(v -> {
                    send("NOOP");
                    return reply("the reply to NOOP");
                })
                .thenAccept(r -> {
                    if (r.code() != 250) {
                        throw unchecked(failure(r, "NOOP after login", false));
                    }
                });
    }

    private CompletableFuture<Void> ehlo() {
        send("EHLO " + clientName());
        return reply("the reply to EHLO").thenAccept(r -> {
            if (r.code() != 250) {
                throw unchecked(failure(r, "EHLO", false));
            }
            Set<String> caps = orderedSet();
            for (String l : r.lines().subList(1, r.lines().size())) {
                caps.add(l.trim().toUpperCase(Locale.ROOT));
            }
            capabilities = caps;
        });
    }

    private CompletableFuture<Void> starttls() {
        if (!capabilities.contains("STARTTLS")) {
            return CompletableFuture.failedFuture(new UpstreamException(Kind.TLS_FAILURE,
                    "upstream does not offer STARTTLS (EHLO: " + String.join(", ", capabilities) + ")"));
        }
        send("STARTTLS");
        return reply("the reply to STARTTLS")
                .thenCompose(r -> {
                    if (r.code() != 220) {
                        throw unchecked(new UpstreamException(Kind.TLS_FAILURE, "upstream refused STARTTLS: " + r.text(), r.text(), null));
                    }
                    return startTls();
                })
                // RFC 3207 4.2: forget what was learned before TLS and say EHLO again
                .thenCompose(v -> ehlo());
    }

    private CompletableFuture<Void> authenticate(Login login) {
        Set<String> mechs = capabilities.stream().filter(c -> c.startsWith("AUTH ") || c.startsWith("AUTH="))
                .flatMap(c -> Arrays.stream(c.substring(5).trim().split(" +"))).collect(Collectors.toSet());
        Optional<SaslMechanism> chosen = SaslMechanism.choose(login, mechs);
        if (chosen.isEmpty()) {
            return CompletableFuture.failedFuture(new UpstreamException(Kind.CREDENTIALS_REJECTED,
                    "upstream offers no password mechanism (PLAIN or LOGIN) for " + loginUser() + " (AUTH: "
                            + String.join(" ", mechs) + ")"));
        }
        SaslMechanism mech = chosen.get();
        Optional<String> ir = mech.initialResponse();
        if (ir.isPresent()) {
            String r = ir.get().isEmpty() ? "=" : ir.get();
            send("AUTH " + mech.name() + " " + r, "AUTH " + mech.name() + " " + masked(r));
        } else {
            send("AUTH " + mech.name());
        }
        return saslLoop(mech);
    }

    private CompletableFuture<Void> saslLoop(SaslMechanism mech) {
        return reply("the reply to AUTH " + mech.name()).thenCompose(r -> {
            if (r.code() == 235) {
                return CompletableFuture.completedFuture(null);
            }
            if (r.code() == 334) {
                String response = mech.respond(r.last().trim());
                send(response, masked(response));
                return saslLoop(mech);
            }
            throw unchecked(failureOrRejected(r, mech));
        });
    }

    private UpstreamException failureOrRejected(Reply r, SaslMechanism mech) {
        UpstreamException typed = failure(r, "AUTH", true);
        return typed.kind() == Kind.CREDENTIALS_REJECTED ? rejected(r.text(), mech) : typed;
    }

    /**
     * The outcome a negative reply means: Office 365's throttling and quota codes wherever they come; during AUTH
     * any other 5xx (535 5.7.3, 5.7.139, 5.7.30...) is a rejection, kept verbatim.
     */
    private UpstreamException failure(Reply r, String step, boolean auth) {
        String text = r.text();
        String enhanced = r.last().trim();
        if ((r.code() == 432 || r.code() == 421) && enhanced.startsWith("4.3.2")
                || r.code() == 550 && THROTTLE_550.matcher(enhanced).matches()) {
            return new UpstreamException(Kind.THROTTLED, "upstream throttles us at " + step + ": " + text, text, null);
        }
        if (r.code() == 554 && enhanced.startsWith("5.2.0")) {
            return new UpstreamException(Kind.QUOTA, "upstream quota exceeded at " + step + ": " + text, text, null);
        }
        if (auth && r.code() >= 500) {
            return new UpstreamException(Kind.CREDENTIALS_REJECTED, "upstream rejected AUTH: " + text, text, null);
        }
        if (r.code() >= 400 && r.code() < 500) {
            return new UpstreamException(Kind.UNREACHABLE, "upstream temporarily refused " + step + ": " + text, text, null);
        }
        return new UpstreamException(Kind.PROTOCOL_ERROR, "upstream refused " + step + ": " + text, text, null);
    }

    private CompletableFuture<Reply> reply(String what) {
        return replyLines(what, new ArrayList<>(), -1);
    }

    private CompletableFuture<Reply> replyLines(String what, List<String> lines, int code) {
        return read(what).thenCompose(l -> {
            Matcher m = REPLY.matcher(l);
            if (!m.matches()) {
                throw unchecked(protocolError("not an SMTP reply line", l));
            }
            int c = Integer.parseInt(m.group(1));
            if (code >= 0 && c != code) {
                throw unchecked(protocolError("SMTP reply lines with different codes", l));
            }
            lines.add(m.group(3));
            if (m.group(2).equals("-")) {
                return replyLines(what, lines, c);
            }
            return CompletableFuture.completedFuture(new Reply(c, List.copyOf(lines)));
        });
    }
}
