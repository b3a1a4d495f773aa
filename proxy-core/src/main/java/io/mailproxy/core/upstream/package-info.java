/** Upstream connector: implicit TLS and STARTTLS, greetings, capabilities, SASL PLAIN/LOGIN/XOAUTH2. */
package io.mailproxy.core.upstream;
