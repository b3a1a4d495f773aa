package io.mailproxy.core.config;

import java.nio.file.Path;

/** Local TLS on a listener: PEM certificate chain and private key. */
public record ListenerTls(Mode mode, Path certFile, Path keyFile) {
    public enum Mode {
        /** TLS from the first byte (imaps 993, pop3s 995, smtps 465). */
        IMPLICIT,
        /** Plaintext greeting, STARTTLS / STLS offered. */
        STARTTLS
    }
}
