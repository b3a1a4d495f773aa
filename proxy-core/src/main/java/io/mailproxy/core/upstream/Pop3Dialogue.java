package io.mailproxy.core.upstream;

import io.mailproxy.core.config.UpstreamEndpoint.Security;
import io.mailproxy.core.credentials.UpstreamCredentials.Login;
import io.mailproxy.core.upstream.UpstreamException.Kind;
import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;

/**
 * POP3 login (RFC 1939, 2449 CAPA, 2595 STLS, 5034 SASL): greeting, CAPA, STLS, AUTH (or USER/PASS for a password
 * where no SASL mechanism fits), CAPA again (RFC 2449: capabilities may differ in the TRANSACTION state), NOOP.
 *
 * <p>AUTH never carries an initial response: RFC 5034 forbids a command line over 255 octets, which an XOAUTH2
 * response always exceeds; Office 365 and GreenMail both answer {@code AUTH XOAUTH2} with {@code +}.
 */
final class Pop3Dialogue extends LoginDialogue {

    private static final String NOT_CONNECTED = "authenticated but not connected";

    Pop3Dialogue(Context c) {
        super(c);
    }

    @Override
    CompletableFuture<Void> login() {
        return read("the POP3 greeting")
                .thenCompose(g -> {
                    greeting = g;
                    if (!g.startsWith("+OK")) {
                        throw unchecked(new UpstreamException(Kind.UNREACHABLE, "upstream refused the connection: " + g, g, null));
                    }
                    return capa(Optional.empty());
                })
                .thenCompose(caps -> {
                    capabilities = caps;
                    return endpoint.security() == Security.STARTTLS ? stls() : CompletableFuture.completedFuture(null);
                })
                .thenCompose(v -> credentials())
                .thenCompose(this::authenticate)
                .thenCompose(v -> capa(Optional.of(capabilities)))
                .thenCompose(caps -> {
                    capabilities = caps;
                    send("NOOP");
                    return read("the reply to NOOP");
                })
                .thenAccept(r -> {
                    if (!r.startsWith("+OK")) {
                        if (r.toLowerCase(Locale.ROOT).contains(NOT_CONNECTED)) {
                            throw unchecked(new UpstreamException(Kind.THROTTLED, "upstream answered NOOP after login with: " + r
                                    + ImapDialogue.NOT_CONNECTED_HINT, r, null));
                        }
                        throw unchecked(protocolError("upstream refused NOOP after login", r));
                    }
                });
    }

    private CompletableFuture<Void> stls() {
        if (!capabilities.contains("STLS")) {
            return CompletableFuture.failedFuture(new UpstreamException(Kind.TLS_FAILURE,
                    "upstream does not offer STLS (CAPA: " + String.join(", ", capabilities) + ")"));
        }
        send("STLS");
        return read("the reply to STLS")
                .thenCompose(r -> {
                    if (!r.startsWith("+OK")) {
                        throw unchecked(new UpstreamException(Kind.TLS_FAILURE, "upstream refused STLS: " + r, r, null));
                    }
                    return startTls();
                })
                .thenCompose(v -> capa(Optional.empty()))
                .thenAccept(caps -> capabilities = caps);
    }

    /** CAPA's lines, upper-cased; on {@code -ERR} the fallback (or an empty set). */
    private CompletableFuture<Set<String>> capa(Optional<Set<String>> fallback) {
        send("CAPA");
        return read("the reply to CAPA").thenCompose(first -> {
            if (!first.startsWith("+OK")) {
                return CompletableFuture.completedFuture(fallback.orElse(Set.of()));
            }
            return capaLines(orderedSet());
        });
    }

    private CompletableFuture<Set<String>> capaLines(Set<String> caps) {
        return read("the CAPA list").thenCompose(l -> {
            if (l.equals(".")) {
                return CompletableFuture.completedFuture(caps);
            }
            String line = l.startsWith("..") ? l.substring(1) : l;
            caps.add(line.trim().toUpperCase(Locale.ROOT));
            return capaLines(caps);
        });
    }

    private CompletableFuture<Void> authenticate(Login login) {
        Set<String> mechs = capabilities.stream().filter(c -> c.startsWith("SASL "))
                .flatMap(c -> Arrays.stream(c.substring(5).trim().split(" +"))).collect(Collectors.toSet());
        Optional<SaslMechanism> chosen = SaslMechanism.choose(login, mechs);
        if (chosen.isEmpty()) {
            Login.Password p = (Login.Password) login;
            send("USER " + p.user());
            return read("the reply to USER").thenCompose(r -> {
                if (!r.startsWith("+OK")) {
                    throw unchecked(rejected(r, null));
                }
                send("PASS " + p.password(), "PASS " + SaslMechanism.MASK);
                return read("the reply to PASS");
            }).thenAccept(r -> {
                if (!r.startsWith("+OK")) {
                    throw unchecked(rejected(r, null));
                }
            });
        }
        SaslMechanism mech = chosen.get();
        send("AUTH " + mech.name());
        return saslLoop(mech);
    }

    private CompletableFuture<Void> saslLoop(SaslMechanism mech) {
        return read("the reply to AUTH " + mech.name()).thenCompose(l -> {
            if (l.startsWith("+OK")) {
                return CompletableFuture.completedFuture(null);
            }
            if (l.equals("+") || l.startsWith("+ ")) {
                String response = mech.respond(l.length() > 2 ? l.substring(2) : "");
                send(response, masked(response));
                return saslLoop(mech);
            }
            throw unchecked(rejected(l, mech));
        });
    }
}
