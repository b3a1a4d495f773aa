package io.mailproxy.core.config;

import java.util.Optional;

/** How an account logs in upstream. */
public sealed interface AuthConfig {

    enum Grant { CLIENT_CREDENTIALS, REFRESH_TOKEN, PASSWORD }

    /**
     * SASL XOAUTH2 with a token from {@code provider}.
     *
     * @param principal for delegated grants, whose consent/refresh token is used (a delegate for a shared
     *                  mailbox); defaults to the account's mailbox
     * @param username  for the password grant (ROPC), the user name; the password is {@code password}
     */
    record OAuth2(String provider, Grant grant, Optional<String> principal,
                  Optional<String> username, Optional<SecretRef> password) implements AuthConfig { }

    /** SASL PLAIN/LOGIN with a password (providers other than Office 365). */
    record Password(Optional<String> username, SecretRef password) implements AuthConfig { }
}
