package io.mailproxy.core.credentials;

import io.mailproxy.core.AdminCommand;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What an administrator can do about the Microsoft identity platform refusals that no retry fixes, by AADSTS number
 * (Microsoft Entra's "Authentication and authorization error codes" reference gives each code's meaning; the advice is
 * ours). Said once, in the log line and {@code check}, beside the provider's own text.
 */
final class SignInAdvice {

    private static final Map<Long, String> ADVICE = Map.of(
            70043L, "a Conditional Access sign-in frequency policy ends this refresh token on its schedule: sign in"
                    + " again with {command} login, or have the administrator exclude the mailproxy app (or this"
                    + " account) from that policy, or use app-only access",
            50076L, "multi-factor authentication is required for this sign-in; a password grant can never do it: use"
                    + " grant = refresh-token and {command} login (MFA happens in the browser)",
            50078L, "the multi-factor authentication this sign-in had has expired under the tenant's policy: sign in"
                    + " again with {command} login",
            50079L, "the user must register multi-factor authentication (security info) before signing in; then"
                    + " {command} login",
            7000222L, "the app registration's client secret has expired: create a new one in Entra ID (Certificates &"
                    + " secrets) and store it with {command} secret set NAME, or switch to a certificate",
            530035L, "the tenant's security defaults block this sign-in (they refuse the password grant outright): use"
                    + " grant = refresh-token with {command} login, or app-only access",
            50173L, "the refresh token was revoked (a password change or reset, or an administrator revoked the"
                    + " user's sessions): sign in again with {command} login");

    private SignInAdvice() {
    }

    /** The advice for the first AADSTS number that has one. */
    static Optional<String> forCodes(List<Long> codes) {
        return codes.stream().map(ADVICE::get).filter(a -> a != null).findFirst()
                .map(a -> a.replace("{command}", AdminCommand.name()));
    }
}
