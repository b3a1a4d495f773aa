package io.mailproxy.daemon.cli;

import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.config.OAuth2ProviderConfig;
import io.mailproxy.core.config.UpstreamConfig;
import io.mailproxy.core.credentials.AuthorizationCodeLogin;
import io.mailproxy.core.credentials.DefaultUpstreamCredentials;
import io.mailproxy.core.credentials.DeviceCodeLogin;
import io.mailproxy.core.credentials.FileSecretStore;
import io.mailproxy.core.credentials.LoginConsent;
import io.mailproxy.core.credentials.LoginResult;
import io.mailproxy.core.credentials.Scheduler;
import io.mailproxy.core.credentials.SecretStore;
import io.mailproxy.core.credentials.TokenService;
import io.mailproxy.daemon.control.ControlClient;
import io.mailproxy.daemon.control.RemoteSecretStore;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code mailproxy login ACCOUNT}: OAuth 2.0 consent for a delegated account; stores the refresh token. */
@Command(name = "login", mixinStandardHelpOptions = true,
        description = "Sign in for a delegated OAuth 2.0 account (grant = refresh-token) and store its refresh token, "
                + "encrypted. Default: the device-code flow (works on a server without a browser). With --browser, the "
                + "authorization-code flow with PKCE and a local redirect listener; with --paste, the same flow where "
                + "you paste the URL the browser was sent to. A running daemon picks the token up without a restart.")
public final class LoginCommand implements Callable<Integer> {

    @Mixin
    ConfigOption config;

    @Parameters(index = "0", paramLabel = "ACCOUNT", description = "the account's key in `accounts`")
    String accountName;

    @ArgGroup(exclusive = true)
    Flow flow = new Flow();

    static final class Flow {
        @Option(names = "--device-code", description = "device-code flow (the default)")
        boolean deviceCode;

        @Option(names = "--browser", description = "authorization code + PKCE, redirect caught on localhost")
        boolean browser;

        @Option(names = "--paste", description = "authorization code + PKCE, paste the redirect URL back")
        boolean paste;
    }

    /**
     * What the sign-in asks consent for: the mail protocols' scopes, and Microsoft Graph's (own mailbox, or
     * {@code .Shared} for a delegate) when a client of the account uses Graph; an account whose upstream has only
     * Graph signs in for Graph alone.
     */
    static LoginConsent consent(MailproxyConfig cfg, AccountConfig account, AuthConfig.OAuth2 auth,
                                OAuth2ProviderConfig provider) {
        UpstreamConfig upstream = cfg.upstreams().get(account.upstream());
        boolean mail = upstream == null || !upstream.endpoints().isEmpty();
        return LoginConsent.of(provider, mail, graphScopes(cfg, account, auth, provider));
    }

    private static List<String> graphScopes(MailproxyConfig cfg, AccountConfig account, AuthConfig.OAuth2 auth,
                                            OAuth2ProviderConfig provider) {
        UpstreamConfig upstream = cfg.upstreams().get(account.upstream());
        boolean graphOnly = upstream != null && upstream.endpoints().isEmpty() && upstream.graph().isPresent();
        return cfg.usesGraph(account.name()) || graphOnly
                ? provider.graphScopes(auth.grant(), account.delegate()) : List.of();
    }

    @Override
    public Integer call() throws Exception {
        MailproxyConfig cfg = config.load();
        AccountConfig account = cfg.account(accountName).orElse(null);
        if (account == null) {
            System.err.println("mailproxy: no account named " + accountName + " in " + cfg.source()
                    + " (accounts: " + String.join(", ", cfg.accounts().keySet()) + ")");
            return ExitCodes.USAGE;
        }
        if (!(account.auth() instanceof AuthConfig.OAuth2 auth) || auth.grant() != AuthConfig.Grant.REFRESH_TOKEN) {
            System.err.println("mailproxy: account " + accountName + " does not use a delegated login "
                    + "(auth.grant = refresh-token); nothing to sign in for"
                    + (cfg.usesGraph(accountName) && account.auth() instanceof AuthConfig.OAuth2
                    ? " (app-only Microsoft Graph needs an administrator's consent to the application permissions"
                    + " instead: see docs/OFFICE365.md)" : ""));
            return ExitCodes.USAGE;
        }
        OAuth2ProviderConfig provider = cfg.oauth2().get(auth.provider());
        String principal = DefaultUpstreamCredentials.principal(account, auth);
        LoginConsent consent = consent(cfg, account, auth, provider);

        boolean viaDaemon = ControlClient.isRunning(cfg.stateDir());
        SecretStore store = viaDaemon ? new RemoteSecretStore(new ControlClient(cfg.stateDir()))
                : FileSecretStore.open(cfg.stateDir(), System.getenv());
        ExecutorService executor = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "mailproxy-login");
            t.setDaemon(true);
            return t;
        });
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "mailproxy-login-timer");
            t.setDaemon(true);
            return t;
        });
        try (TokenService tokens = TokenService.builder(store).executor(executor).scheduler(Scheduler.of(timer))
                .clock(Clock.systemUTC()).build()) {
            System.out.println("Signing in " + principal + " at " + provider.name()
                    + (principal.equals(account.mailbox()) ? "" : " (delegate for " + account.mailbox() + ")") + ".");
            List<String> graph = graphScopes(cfg, account, auth, provider);
            if (!graph.isEmpty()) {
                System.out.println("Consent is asked for Microsoft Graph as well: " + String.join(" ", graph) + ".");
            }
            LoginResult result;
            if (flow.browser || flow.paste) {
                try (AuthorizationCodeLogin login = tokens.startAuthorizationCodeLogin(provider, principal, flow.browser,
                        consent)) {
                    System.out.println("Open this address in a browser and sign in as " + principal + ":");
                    System.out.println();
                    System.out.println("  " + login.authorizationUri());
                    System.out.println();
                    if (flow.browser) {
                        System.out.println("Waiting for the redirect to " + login.redirectUri() + " ...");
                        result = login.result().join();
                    } else {
                        System.out.println("Then paste the address the browser was sent to (it starts with "
                                + login.redirectUri() + ") and press Enter:");
                        String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))
                                .readLine();
                        if (line == null || line.isBlank()) {
                            System.err.println("mailproxy: no redirect URL given");
                            return ExitCodes.RUNTIME_FAILURE;
                        }
                        result = login.complete(line.trim()).join();
                    }
                }
            } else {
                DeviceCodeLogin login = tokens.startDeviceCodeLogin(provider, principal, consent).join();
                System.out.println(login.message().orElse("To sign in, open " + login.verificationUri()
                        + " and enter the code " + login.userCode()));
                System.out.println("Waiting until " + login.expiresAt() + " ...");
                result = login.result().join();
            }
            System.out.println("Signed in. The refresh token is stored as " + result.secretName()
                    + (viaDaemon ? " in the running daemon's store; it is used from the next login on." : "."));
            return ExitCodes.OK;
        } catch (CompletionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            System.err.println("mailproxy: login failed: " + cause.getMessage());
            return ExitCodes.RUNTIME_FAILURE;
        } finally {
            executor.shutdownNow();
            timer.shutdownNow();
        }
    }
}
