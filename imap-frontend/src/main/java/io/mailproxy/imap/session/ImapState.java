package io.mailproxy.imap.session;

/** The connection states of RFC 3501 section 3. */
public enum ImapState {
    NOT_AUTHENTICATED, AUTHENTICATED, SELECTED, LOGOUT
}
