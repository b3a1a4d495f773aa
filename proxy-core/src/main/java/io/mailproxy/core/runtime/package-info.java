/**
 * The server runtime: transport (epoll or NIO), listeners with allow-from, implicit local TLS and connection limits,
 * session ids in the logging MDC, reload without dropping sessions, and a graceful shutdown that says goodbye in each
 * session's protocol.
 */
package io.mailproxy.core.runtime;
