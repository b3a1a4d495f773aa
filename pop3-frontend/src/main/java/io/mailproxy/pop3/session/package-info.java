/**
 * The POP3 session state machine (RFC 1939 AUTHORIZATION, TRANSACTION, UPDATE): RFC 2449 CAPA and response codes,
 * RFC 3206 {@code [AUTH]}/{@code [SYS/TEMP]}/{@code [SYS/PERM]}/{@code [IN-USE]}, RFC 5034 AUTH PLAIN, RFC 2595 STLS.
 */
package io.mailproxy.pop3.session;
