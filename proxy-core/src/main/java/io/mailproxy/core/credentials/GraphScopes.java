package io.mailproxy.core.credentials;

import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.OAuth2ProviderConfig;
import java.net.URI;
import java.util.List;
import java.util.Locale;

/**
 * The OAuth 2.0 scopes of a Microsoft Graph token, as the provider's {@code scopes.graph*} lists give them. The
 * presets name the Graph host of their cloud, so each national cloud gets its own ({@code https://graph.microsoft.us/.default}: "Access tokens acquired for
 * a national cloud deployment are not interchangeable", microsoft-graph-docs-contrib concepts/deployments.md;
 * docs/research/graph-evidence.md section 9).
 *
 * <ul>
 * <li>App-only (client credentials): {@code <host>/.default}, the application permissions granted to the app
 *     (Mail.Send, Mail.ReadWrite), scoped to mailboxes by Exchange RBAC for Applications or an application access
 *     policy (concepts/auth-limit-mailbox-access.md).</li>
 * <li>Delegated: {@code <host>/Mail.Send}, {@code <host>/Mail.ReadWrite} and {@code offline_access}; the
 *     {@code .Shared} variants when the token's user (a delegate) is not the mailbox, "to access mail in a shared
 *     mailbox or another user's mailbox" (concepts/outlook-share-messages-folders.md,
 *     concepts/outlook-send-mail-from-other-user.md; evidence section 8).</li>
 * </ul>
 */
public final class GraphScopes {

    private GraphScopes() {
    }

    /** {@code https://graph.microsoft.com} from {@code https://graph.microsoft.com/v1.0}: scheme and authority only. */
    public static String audience(URI graphBase) {
        return graphBase.getScheme().toLowerCase(Locale.ROOT) + "://" + graphBase.getRawAuthority();
    }

    /**
     * The scopes of the token the account uses for Graph: the provider's configured ones
     * ({@link OAuth2ProviderConfig#graphScopes}: {@code scopes.graph-app}, {@code scopes.graph} or
     * {@code scopes.graph-shared}), so an administrator's override takes effect; the presets give the lists above.
     * The config loader refuses an account reached through Graph whose list is empty.
     */
    public static List<String> forAccount(OAuth2ProviderConfig provider, AccountConfig account,
                                          AuthConfig.OAuth2 auth) {
        return provider.graphScopes(auth.grant(), account.delegate());
    }

    /**
     * Every delegated Graph scope an interactive login ({@code ./mailproxy login}) should ask consent for, own and
     * shared mailboxes alike, plus {@code offline_access}.
     */
    public static List<String> delegatedConsent(URI graphBase) {
        String host = audience(graphBase);
        return List.of(host + "/Mail.Send", host + "/Mail.ReadWrite", host + "/Mail.Send.Shared",
                host + "/Mail.ReadWrite.Shared", TokenService.OFFLINE_ACCESS);
    }
}
