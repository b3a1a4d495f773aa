/**
 * Interop and robustness suite (issue 9): real clients nobody here wrote (curl, fetchmail, swaks, Python's imaplib,
 * poplib and smtplib) through the proxy to a real Dovecot 2.3 (IMAPS, POP3S, submission with STARTTLS, RFC 3501,
 * 1939, 5321, 3207, 4954), with faults and bad input.
 */
package io.mailproxy.interop;
