package io.mailproxy.core.credentials;

import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.JWTParser;
import io.mailproxy.core.config.OAuth2ProviderConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who actually signed in at an interactive login, from the ID token the token endpoint returned with the tokens.
 * {@code ./mailproxy login ACCOUNT} stores the refresh token under the account's principal whoever signed in; a
 * colleague's browser session would otherwise surface much later as an unexplained SMTP {@code 535 5.7.3}.
 *
 * <p>The login flows ask for {@code openid profile email}: {@code openid} makes the Microsoft identity platform
 * return an {@code id_token}, {@code profile} is "required to receive" {@code preferred_username}, and {@code email}
 * adds the {@code email} claim for managed users (entra-docs identity-platform/id-token-claims-reference.md). The
 * ID token is meant for the client to read, unlike the access token, which stays opaque. It came straight from the
 * token endpoint over TLS, so its signature is not checked (OpenID Connect Core 1.0, 3.1.3.7: "the TLS server
 * validation MAY be used to validate the issuer in place of checking the token signature"). The check only guards
 * against signing in as the wrong user; Exchange still decides what that user may open.
 */
final class SignedInUser {
    private static final Logger LOG = LoggerFactory.getLogger(SignedInUser.class);
    /** Claims that may name the user: the UPN-like name, the mail address, and v1.0's names. */
    /** The OpenID Connect scopes the login flows add. */
    static final List<String> SCOPES = List.of("openid", "profile", "email");
    private static final List<String> NAME_CLAIMS = List.of("preferred_username", "email", "upn", "unique_name");

    private SignedInUser() { }

    /**
     * Passes when the ID token names {@code principal} in any of its user-name claims (case-insensitive: a UPN
     * may be a mail address of another case, and a tenant's UPN may differ from the primary SMTP address), or when
     * there is no readable ID token (an identity provider without OpenID Connect); refuses a different user.
     */
    static void check(OAuth2ProviderConfig provider, String principal, Optional<String> idToken) throws TokenException {
        if (idToken.isEmpty()) {
            LOG.info("provider {} returned no ID token: the signed-in user could not be checked against {}",
                    provider.name(), principal);
            return;
        }
        JWTClaimsSet claims;
        try {
            claims = JWTParser.parse(idToken.get()).getJWTClaimsSet();
        } catch (java.text.ParseException e) {
            LOG.warn("provider {} returned an ID token that is not a JWT: the signed-in user could not be checked"
                    + " against {}", provider.name(), principal);
            return;
        }
        List<String> names = new ArrayList<>();
        for (String claim : NAME_CLAIMS) {
            Object value = claims.getClaim(claim);
            if (value instanceof String s && !s.isBlank()) {
                if (s.trim().equalsIgnoreCase(principal)) {
                    return;
                }
                names.add(s.trim().toLowerCase(Locale.ROOT));
            }
        }
        if (names.isEmpty()) {
            LOG.warn("the ID token from provider {} names no user (preferred_username, email, upn): the signed-in"
                    + " user could not be checked against {}", provider.name(), principal);
            return;
        }
        String who = names.get(0);
        throw new TokenException(TokenException.Reason.LOGIN_FAILED, "signed in as " + who + ", but this account's"
                + " refresh token must be " + principal + "'s (the account's principal, or its mailbox); nothing was"
                + " stored. Run the login again and sign in as " + principal + ": use a private browser window, or"
                + " sign out of " + who + " first (with the device code, pick " + principal + " at \"Pick an account\")");
    }
}
