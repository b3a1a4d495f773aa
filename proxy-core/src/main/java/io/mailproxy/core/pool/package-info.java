/**
 * Pools of authenticated upstream connections per account and protocol (DESIGN rule 4): bounded, pre-warmed,
 * token-life aware, probed with NOOP after an idle window (RFC 3501 6.1.2, RFC 5321 4.1.1.9), reset on release with
 * UNSELECT (RFC 3691) or a failing SELECT (RFC 3501 6.3.1, never CLOSE) and RSET (RFC 5321 4.1.1.5).
 */
package io.mailproxy.core.pool;
