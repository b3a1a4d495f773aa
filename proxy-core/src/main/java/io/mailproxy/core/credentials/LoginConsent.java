package io.mailproxy.core.credentials;

import io.mailproxy.core.config.OAuth2ProviderConfig;
import java.util.List;

/**
 * What an interactive login ({@code ./mailproxy login}) asks for: {@code redeem}, the scopes of the one resource the
 * sign-in's tokens are issued for (the mail protocols', or Microsoft Graph's for an account that has only Graph),
 * and {@code consentOnly}, the scopes of other resources the user consents to at the same sign-in (Microsoft Graph's
 * when a client of the account uses Graph) and that the stored refresh token later redeems for.
 *
 * <p>The Microsoft identity platform takes scopes of several resources in the authorize (and device code) request,
 * for consent, but a token request for only one: "You can't get a token for several resources at once with the
 * Microsoft identity platform. The scopes parameter can contain scopes for only a single resource. You can ensure
 * that the user pre-consents to several resources by using the extraScopesToConsent parameter" (Microsoft Learn,
 * "Desktop app that calls web APIs: Move to production", Have the user consent upfront for several resources). A
 * token request naming two resources is refused with AADSTS28000. The refresh token is a multi-resource one: it
 * redeems for any resource the user consented to (Microsoft Learn, refresh tokens: "Refresh tokens are bound to a
 * combination of user and client, but aren't tied to a resource or tenant").
 */
public record LoginConsent(List<String> redeem, List<String> consentOnly) {

    public LoginConsent {
        redeem = List.copyOf(redeem);
        consentOnly = List.copyOf(consentOnly);
    }

    /** Today's login: every delegated mail-protocol scope of the provider, nothing more. */
    public static LoginConsent mailProtocols(OAuth2ProviderConfig provider) {
        return new LoginConsent(mailScopes(provider), List.of());
    }

    /**
     * The mail protocols' scopes and, with {@code graph} non-empty, Graph's for consent; an account whose upstream
     * has no mail protocol ({@code mailProtocols} false) redeems for Graph itself.
     */
    public static LoginConsent of(OAuth2ProviderConfig provider, boolean mailProtocols, List<String> graph) {
        if (!mailProtocols && !graph.isEmpty()) {
            return new LoginConsent(graph, List.of());
        }
        return new LoginConsent(mailScopes(provider), graph);
    }

    private static List<String> mailScopes(OAuth2ProviderConfig provider) {
        java.util.Set<String> all = new java.util.LinkedHashSet<>();
        all.addAll(provider.delegatedScopesImap());
        all.addAll(provider.delegatedScopesPop3());
        all.addAll(provider.delegatedScopesSmtp());
        return List.copyOf(all);
    }
}
