package io.mailproxy.core.admin;

import java.util.Objects;

/**
 * One account's health for {@code /health}: whether its last upstream login and token refresh succeeded.
 *
 * @param reason why not, for an administrator (e.g. "refresh token rejected (AADSTS700082): run ./mailproxy login
 *               reports@contoso.com"); empty when ok. Never a secret or token.
 */
public record AccountHealth(String account, boolean ok, String reason) {

    public AccountHealth {
        Objects.requireNonNull(account, "account");
        reason = reason == null ? "" : reason;
    }

    public static AccountHealth ok(String account) {
        return new AccountHealth(account, true, "");
    }

    public static AccountHealth failing(String account, String reason) {
        return new AccountHealth(account, false, reason);
    }
}
