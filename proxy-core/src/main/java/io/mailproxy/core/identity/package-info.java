/**
 * Local identities of legacy apps: Argon2id password hashes (RFC 9106, PHC string format) checked off the event
 * loop, the verified-login cache, and the per-login-name slow-down after failures.
 */
package io.mailproxy.core.identity;
