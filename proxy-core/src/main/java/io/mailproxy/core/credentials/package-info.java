/**
 * Central credentials: the encrypted secret store (AES-256-GCM, NIST SP 800-38D) and the OAuth 2.0 token service
 * on the Nimbus SDK (RFC 6749 grants, RFC 7523 private_key_jwt, RFC 7636 PKCE, RFC 8628 device authorization,
 * RFC 8252 loopback redirects), with Microsoft identity platform error handling (AADSTS codes).
 */
package io.mailproxy.core.credentials;
