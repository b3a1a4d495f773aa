/** Local identities of legacy apps: Argon2id password hashes, verified-login cache, failed-login slow-down. */
package io.mailproxy.core.identity;
