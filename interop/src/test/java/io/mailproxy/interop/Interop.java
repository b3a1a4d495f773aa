package io.mailproxy.interop;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * What every {@code *IT} shares, started once per JVM and closed when the test plan ends: the CA, the identity
 * stub, the SMTP sink, the fake Microsoft Graph ({@link GraphUpstream}), Dovecot, and (see {@link Proxy}) mailproxy
 * in-process. Test classes declare
 * {@code @ExtendWith(Interop.Extension.class)} and take an {@code Interop} parameter.
 *
 * <p>Each test class owns a mailbox of its own (see {@link #USERS}) and empties it before each test.
 */
final class Interop implements AutoCloseable {

    static final String DOMAIN = "example.test";

    /** Upstream mailboxes (Dovecot users, login = address) and their Dovecot passwords. */
    static final Map<String, String> USERS = DovecotServer.users(
            "direct@" + DOMAIN, "pw-direct",
            "curl@" + DOMAIN, "pw-curl",
            "fetchmail@" + DOMAIN, "pw-fetchmail",
            "swaks@" + DOMAIN, "pw-swaks",
            "python@" + DOMAIN, "pw-python",
            "pop3imap@" + DOMAIN, "pw-pop3imap",
            "faults@" + DOMAIN, "pw-faults",
            "badinput@" + DOMAIN, "pw-badinput",
            "oauth@" + DOMAIN, "pw-oauth-not-used",
            "flaky@" + DOMAIN, "pw-flaky-not-used",
            "idle@" + DOMAIN, "pw-idle-not-used",
            "delegated@" + DOMAIN, "pw-delegated-not-used",
            "clients@" + DOMAIN, "pw-clients",
            "kicked@" + DOMAIN, "pw-kicked");

    /** The mailbox the proxy opens with an app-only (client-credentials) OAuth token. */
    static final String OAUTH_USER = "oauth@" + DOMAIN;

    /** Opened with app-only tokens from a second identity platform, one that answers 500 until a check heals it. */
    static final String FLAKY_USER = "flaky@" + DOMAIN;

    /** Opened with app-only tokens that live 45 s: the session in IDLE must move before the token expires. */
    static final String IDLE_USER = "idle@" + DOMAIN;

    /** Opened with delegated tokens from a refresh token that {@code mailproxy login} stores and a check revokes. */
    static final String DELEGATED_USER = "delegated@" + DOMAIN;

    final LogCapture logs = LogCapture.install();
    final Path scratch;
    final Pki pki;
    final IdentityStub identity;
    final SmtpSink sink;
    final DovecotServer dovecot;
    /** Microsoft Graph (testkit's fake) as a second kind of upstream, for {@link GraphIT}. */
    final GraphUpstream graph;
    private Proxy proxy;
    private RuntimeException proxyFailure;

    private Interop() throws IOException {
        long t0 = System.nanoTime();
        scratch = Files.createTempDirectory("mailproxy-interop-");
        pki = Pki.create();
        identity = new IdentityStub(OAUTH_USER, FLAKY_USER);
        sink = new SmtpSink();
        graph = new GraphUpstream(identity);
        dovecot = DovecotServer.start(scratch, pki, USERS, identity, sink);
        System.out.printf("interop: Dovecot %s up in %d ms (imaps %d, pop3s %d, submission %d; scratch %s)%n",
                version(), (System.nanoTime() - t0) / 1_000_000, dovecot.imapsPort(), dovecot.pop3sPort(),
                dovecot.submissionPort(), scratch);
    }

    /** mailproxy, started on first use. */
    synchronized Proxy proxy() throws IOException {
        if (proxyFailure != null) {
            throw new IllegalStateException("mailproxy did not start (see the first failure): " + proxyFailure,
                    proxyFailure);
        }
        if (proxy == null) {
            try {
                proxy = Proxy.start(this);
            } catch (RuntimeException e) {
                proxyFailure = e;
                throw e;
            }
        }
        return proxy;
    }

    UpstreamMailbox mailbox(String user) throws IOException {
        return UpstreamMailbox.open(dovecot, user);
    }

    /** Empties the user's INBOX, Trash and Archive upstream. */
    void clear(String user) throws IOException {
        try (UpstreamMailbox m = mailbox(user)) {
            m.clear();
        }
    }

    /** Every password and client secret the suite uses: none may appear in the proxy's log. */
    java.util.List<String> secrets() {
        java.util.List<String> s = new java.util.ArrayList<>(USERS.values());
        for (String u : USERS.keySet()) {
            s.add(Proxy.secret(Proxy.client(u)));
        }
        s.add(identity.clientSecret);
        s.addAll(graph.secrets());
        return s;
    }

    /** A log line since {@code mark} matches {@code regex}, and no line since then holds a secret. */
    void assertLogged(long mark, String regex) {
        java.util.List<String> lines = logs.since(mark);
        org.assertj.core.api.Assertions.assertThat(lines).as("log lines since the fault")
                .anyMatch(l -> java.util.regex.Pattern.compile(regex).matcher(l).find());
        for (String secret : secrets()) {
            org.assertj.core.api.Assertions.assertThat(lines).as("no secret in the log")
                    .noneMatch(l -> l.contains(secret));
        }
    }

    @Override
    public void close() throws Exception {
        try {
            if (proxy != null) {
                proxy.close();
            }
        } finally {
            try {
                dovecot.close();
            } finally {
                sink.close();
                graph.close();
                identity.close();
                if (System.getenv("INTEROP_KEEP") == null) {
                    deleteTree(scratch);
                }
            }
        }
    }

    private static String version() {
        try {
            return Proc.run(java.time.Duration.ofSeconds(10), java.util.List.of("dovecot", "--version")).out().trim();
        } catch (IOException e) {
            return "?";
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }

    /** Resolves {@link Interop} parameters; the instance lives in the root store, so it is closed last. */
    static final class Extension implements ParameterResolver {
        @Override
        public boolean supportsParameter(ParameterContext p, ExtensionContext c) {
            return p.getParameter().getType() == Interop.class;
        }

        @Override
        public Object resolveParameter(ParameterContext p, ExtensionContext c) {
            return c.getRoot().getStore(ExtensionContext.Namespace.GLOBAL).getOrComputeIfAbsent(Interop.class,
                    k -> {
                        try {
                            return new Interop();
                        } catch (IOException e) {
                            throw new IllegalStateException("cannot start the interop environment", e);
                        }
                    }, Interop.class);
        }
    }
}
