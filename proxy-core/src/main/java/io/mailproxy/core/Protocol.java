package io.mailproxy.core;

import java.util.Locale;

/** The three mail protocols mailproxy serves and relays. */
public enum Protocol {
    IMAP, POP3, SMTP;

    /** The lower-case name used in configuration files ({@code imap}, {@code pop3}, {@code smtp}). */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Protocol fromConfigName(String name) {
        return valueOf(name.toUpperCase(Locale.ROOT));
    }
}
