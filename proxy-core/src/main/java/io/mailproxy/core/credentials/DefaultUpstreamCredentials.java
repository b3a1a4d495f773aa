package io.mailproxy.core.credentials;

import io.mailproxy.core.AdminCommand;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.OAuth2ProviderConfig;
import io.mailproxy.core.config.SecretRef;
import io.mailproxy.core.upstream.UpstreamException;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The accounts' upstream logins: an XOAUTH2 bearer token from the {@link TokenService} (as the account's mailbox,
 * so a delegate's token opens a shared mailbox; SMTP as the delegate, see {@link #xoauth2User}), or a password. {@code secret:NAME} is looked up at each login, so
 * {@code ./mailproxy secret set} and {@code ./mailproxy login} take effect without a restart. When something is
 * missing the future fails with {@link UpstreamException.Kind#CREDENTIALS_UNAVAILABLE} and a message that names it
 * and the command that supplies it.
 */
public final class DefaultUpstreamCredentials implements UpstreamCredentials {
    private static final Logger LOG = LoggerFactory.getLogger(DefaultUpstreamCredentials.class);

    private final java.util.function.Supplier<Map<String, OAuth2ProviderConfig>> providers;
    private final SecretResolver secrets;
    private final TokenService tokens;
    private final Executor executor;
    private final Clock clock;
    private final Map<String, AccountState> states = new ConcurrentHashMap<>();

    /**
     * @param providers the {@code oauth2} section by name
     * @param executor  where secret-store reads run (file I/O: never an event loop)
     */
    public DefaultUpstreamCredentials(Map<String, OAuth2ProviderConfig> providers, SecretStore store,
                                      TokenService tokens, Executor executor, Clock clock) {
        this(constant(Map.copyOf(providers)), store, tokens, executor, clock);
    }

    /**
     * @param providers the current {@code oauth2} section, read at each login so that a reload takes effect
     */
    public DefaultUpstreamCredentials(java.util.function.Supplier<Map<String, OAuth2ProviderConfig>> providers,
                                      SecretStore store, TokenService tokens, Executor executor, Clock clock) {
        this.providers = providers;
        this.secrets = new SecretResolver(store);
        this.tokens = tokens;
        this.executor = executor;
        this.clock = clock;
    }

    @Override
    public CompletableFuture<Login> loginFor(AccountConfig account, Protocol protocol) {
        CompletableFuture<Login> login;
        if (account.auth() instanceof AuthConfig.Password password) {
            login = CompletableFuture.supplyAsync(() -> passwordLogin(account, password), executor);
        } else {
            login = bearerLogin(account, (AuthConfig.OAuth2) account.auth(), protocol);
        }
        return login.handle((ok, failure) -> {
            AccountState state = states.computeIfAbsent(account.name(), AccountState::new);
            if (failure == null) {
                state.succeeded(clock.instant(), ok instanceof Login.Bearer b ? b.token().expiresAt() : null);
                return ok;
            }
            Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                    ? failure.getCause() : failure;
            UpstreamException e = cause instanceof UpstreamException ue ? ue
                    : cause instanceof TokenException te ? translate(account, te)
                    : new UpstreamException(UpstreamException.Kind.CREDENTIALS_UNAVAILABLE, "credentials of account "
                            + account.name() + " unavailable: " + cause.getClass().getSimpleName());
            if (state.failed(clock.instant(), e.getMessage())) {
                LOG.warn("{}", e.getMessage());
            }
            throw new CompletionException(e);
        });
    }

    private Login passwordLogin(AccountConfig account, AuthConfig.Password auth) {
        String user = auth.username().orElse(account.mailbox());
        return new Login.Password(user, resolve(account, auth.password(), "password"));
    }

    private String resolve(AccountConfig account, SecretRef ref, String what) {
        try {
            return secrets.resolve(ref);
        } catch (SecretResolver.Unavailable e) {
            String message = e.storeFailure().map(SecretStoreException::getMessage).orElseGet(() -> "the " + what
                    + " secret '" + e.name() + "' is not stored; run " + AdminCommand.of("secret set " + e.name()));
            throw new CompletionException(new UpstreamException(UpstreamException.Kind.CREDENTIALS_UNAVAILABLE,
                    "account " + account.name() + ": " + message));
        }
    }

    private CompletableFuture<Login> bearerLogin(AccountConfig account, AuthConfig.OAuth2 auth, Protocol protocol) {
        OAuth2ProviderConfig provider = providers.get().get(auth.provider());
        if (provider == null) {
            return CompletableFuture.failedFuture(new UpstreamException(UpstreamException.Kind.CREDENTIALS_UNAVAILABLE,
                    "account " + account.name() + ": OAuth 2.0 provider '" + auth.provider() + "' is not configured"));
        }
        String principal = principal(account, auth);
        String user = xoauth2User(account, auth, protocol);
        return tokens.token(provider, auth.grant(), principal, protocol, auth.password())
                .thenApply(token -> (Login) new Login.Bearer(user, token));
    }

    @Override
    public CompletableFuture<AccessToken> graphToken(AccountConfig account, java.net.URI graphBase) {
        if (!(account.auth() instanceof AuthConfig.OAuth2 auth)) {
            return CompletableFuture.failedFuture(new UpstreamException(UpstreamException.Kind.CREDENTIALS_UNAVAILABLE,
                    "account " + account.name() + " logs in with a password; Microsoft Graph takes only OAuth 2.0"
                            + " tokens (auth.type = oauth2)"));
        }
        OAuth2ProviderConfig provider = providers.get().get(auth.provider());
        if (provider == null) {
            return CompletableFuture.failedFuture(new UpstreamException(UpstreamException.Kind.CREDENTIALS_UNAVAILABLE,
                    "account " + account.name() + ": OAuth 2.0 provider '" + auth.provider() + "' is not configured"));
        }
        return tokens.token(provider, auth.grant(), principal(account, auth),
                        GraphScopes.forAccount(provider, account, auth), auth.password())
                .handle((token, failure) -> {
                    if (failure == null) {
                        return token;
                    }
                    Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                            ? failure.getCause() : failure;
                    throw new CompletionException(cause instanceof TokenException te ? translate(account, te)
                            : cause instanceof UpstreamException ? cause
                            : new UpstreamException(UpstreamException.Kind.CREDENTIALS_UNAVAILABLE, "Graph token of"
                                    + " account " + account.name() + " unavailable: " + cause.getClass().getSimpleName()));
                });
    }

    @Override
    public void invalidateGraph(AccountConfig account, java.net.URI graphBase) {
        if (account.auth() instanceof AuthConfig.OAuth2 auth) {
            OAuth2ProviderConfig provider = providers.get().get(auth.provider());
            if (provider != null) {
                tokens.invalidate(TokenService.key(provider.name(), auth.grant(), principal(account, auth),
                        GraphScopes.forAccount(provider, account, auth)));
            }
        }
    }

    /**
     * XOAUTH2's {@code user=}: the account's mailbox, except SMTP with a delegated token, which logs in as the token's
     * own user. Exchange Online opens a shared mailbox over IMAP and POP3 with {@code user=<shared mailbox>} and a
     * delegate's token (office-developer-exchange-docs, legacy-protocols/how-to-authenticate-an-imap-pop-smtp-
     * application-by-using-oauth.md, "SASL XOAUTH2 authentication for shared mailboxes"), but refuses that on SMTP
     * with {@code 535 5.7.3 Authentication unsuccessful}; there it takes {@code user=<delegate>}, and the envelope
     * sender ({@code MAIL FROM:<shared mailbox>}) is checked against the delegate's SendAs right at submission
     * (nextcloud/mail #13667 and PR #13668, frappe/frappe #23079, jstedfast/MailKit #1770, simonrob/email-oauth2-proxy
     * PR #426; Microsoft's page does not say). App-only tokens have no user of their own: {@code user=<mailbox>}.
     */
    static String xoauth2User(AccountConfig account, AuthConfig.OAuth2 auth, Protocol protocol) {
        return protocol == Protocol.SMTP && auth.grant() != AuthConfig.Grant.CLIENT_CREDENTIALS
                ? principal(account, auth) : account.mailbox();
    }

    /**
     * Whose token an account uses: the delegate ({@code principal}), the ROPC user name, or the mailbox itself; empty
     * for app-only. {@code ./mailproxy login ACCOUNT} logs this principal in.
     */
    public static String principal(AccountConfig account, AuthConfig.OAuth2 auth) {
        return switch (auth.grant()) {
            case CLIENT_CREDENTIALS -> "";
            case REFRESH_TOKEN -> auth.principal().orElse(account.mailbox());
            case PASSWORD -> auth.username().orElse(auth.principal().orElse(account.mailbox()));
        };
    }

    static UpstreamException translate(AccountConfig account, TokenException e) {
        String prefix = "account " + account.name() + ": ";
        String advice = SignInAdvice.forCodes(e.errorCodes()).map(a -> " — " + a).orElse("");
        String hint = !advice.isEmpty() ? advice : switch (e.reason()) {
            case REFRESH_TOKEN_MISSING -> "; run " + AdminCommand.of("login " + account.name());
            case REJECTED -> {
                if ("invalid_grant".equals(e.error().orElse(""))
                        && account.auth() instanceof AuthConfig.OAuth2 o && o.grant() == AuthConfig.Grant.REFRESH_TOKEN) {
                    yield "; run " + AdminCommand.of("login " + account.name());
                }
                if ("invalid_client".equals(e.error().orElse(""))) {
                    yield "; check the provider's client secret or certificate (" + AdminCommand.of("secret set NAME")
                            + ")";
                }
                yield "";
            }
            default -> "";
        };
        return new UpstreamException(UpstreamException.Kind.CREDENTIALS_UNAVAILABLE, prefix + e.getMessage() + hint,
                null, e);
    }

    @Override
    public void invalidate(AccountConfig account, Protocol protocol) {
        if (account.auth() instanceof AuthConfig.OAuth2 auth) {
            OAuth2ProviderConfig provider = providers.get().get(auth.provider());
            if (provider != null) {
                tokens.invalidate(TokenService.key(provider, auth.grant(), principal(account, auth), protocol));
            }
        }
    }

    /**
     * Fetches the tokens of every OAuth 2.0 account ahead of the first login (IMAP scope, else the protocol of the
     * account's first pool). This also starts each refresh token's keep-alive, so a refresh token is redeemed at
     * least daily even if no client ever connects. Failures are recorded in {@link #status()}, not thrown.
     */
    public CompletableFuture<Void> warmUp(java.util.Collection<AccountConfig> accounts) {
        CompletableFuture<?>[] all = accounts.stream()
                .filter(a -> a.auth() instanceof AuthConfig.OAuth2)
                .map(a -> loginFor(a, a.pools().isEmpty() || a.pools().containsKey(Protocol.IMAP)
                        ? Protocol.IMAP : a.pools().keySet().iterator().next()).handle((ok, e) -> null))
                .toArray(CompletableFuture[]::new);
        return CompletableFuture.allOf(all);
    }

    /** Each account's state, by account name, for {@code /health}, {@code /status} and {@code check}. */
    public Map<String, CredentialStatus> status() {
        Map<String, CredentialStatus> out = new TreeMap<>();
        states.forEach((name, state) -> out.put(name, state.snapshot()));
        return out;
    }

    public Optional<CredentialStatus> status(String account) {
        return Optional.ofNullable(states.get(account)).map(AccountState::snapshot);
    }

    private static final class AccountState {
        private final String account;
        private boolean ok;
        private String lastError;
        private Instant lastErrorAt;
        private Instant lastSuccessAt;
        private Instant tokenExpiresAt;

        AccountState(String account) {
            this.account = account;
        }

        synchronized void succeeded(Instant now, Instant expiresAt) {
            ok = true;
            lastError = null;
            lastSuccessAt = now;
            if (expiresAt != null) {
                tokenExpiresAt = expiresAt;
            }
        }

        /** Returns whether this failure differs from the last one (log it once, not at every login). */
        synchronized boolean failed(Instant now, String message) {
            boolean changed = ok || !message.equals(lastError);
            ok = false;
            lastError = message;
            lastErrorAt = now;
            return changed;
        }

        synchronized CredentialStatus snapshot() {
            return new CredentialStatus(account, ok, Optional.ofNullable(lastError), Optional.ofNullable(lastErrorAt),
                    Optional.ofNullable(lastSuccessAt), Optional.ofNullable(tokenExpiresAt));
        }
    }

    private static <T> java.util.function.Supplier<T> constant(T value) {
        return () -> value;
    }
}
