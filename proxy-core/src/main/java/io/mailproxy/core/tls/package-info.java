/** TLS contexts: local listeners (PEM certificate and key, RFC 8446 / 5246, TLS 1.2 or newer) and certificates. */
package io.mailproxy.core.tls;
