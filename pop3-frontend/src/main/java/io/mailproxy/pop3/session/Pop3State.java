package io.mailproxy.pop3.session;

/** RFC 1939 section 3 session states. */
enum Pop3State {
    AUTHORIZATION, TRANSACTION, UPDATE
}
