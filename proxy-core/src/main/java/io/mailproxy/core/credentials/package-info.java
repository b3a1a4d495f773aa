/** Central credentials: the encrypted secret store and the OAuth 2.0 token service. */
package io.mailproxy.core.credentials;
