package io.mailproxy.core.credentials;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import io.mailproxy.core.config.OAuth2ProviderConfig;
import io.mailproxy.core.config.SecretRef;
import io.mailproxy.testkit.FakeIdentityPlatform;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.slf4j.LoggerFactory;

/** Office 365-shaped provider configs pointing at a {@link FakeIdentityPlatform}, and log capture. */
final class Fixtures {
    static final String TENANT = "contoso.onmicrosoft.com";
    static final String IMAP = "https://outlook.office.com/IMAP.AccessAsUser.All";
    static final String POP = "https://outlook.office.com/POP.AccessAsUser.All";
    static final String SMTP = "https://outlook.office.com/SMTP.Send";
    static final String APP = "https://outlook.office365.com/.default";

    private Fixtures() { }

    static OAuth2ProviderConfig provider(FakeIdentityPlatform idp, String name, String clientId,
                                         Optional<SecretRef> secret, Optional<Path> cert, Optional<Path> key) {
        return new OAuth2ProviderConfig(name, Optional.of(TENANT), idp.tokenEndpoint(TENANT),
                idp.deviceCodeEndpoint(TENANT), idp.authorizeEndpoint(TENANT), clientId, secret, cert, key,
                Optional.empty(), List.of(IMAP, "offline_access"), List.of(POP, "offline_access"),
                List.of(SMTP, "offline_access"), List.of(APP));
    }

    static OAuth2ProviderConfig publicClient(FakeIdentityPlatform idp, String name, String clientId) {
        return provider(idp, name, clientId, Optional.empty(), Optional.empty(), Optional.empty());
    }

    static FileSecretStore store(Path dir) {
        byte[] key = new byte[32];
        java.util.Arrays.fill(key, (byte) 9);
        return FileSecretStore.open(dir, java.util.Map.of("MAILPROXY_MASTER_KEY", Base64.getEncoder().encodeToString(key)));
    }

    /** Captures everything io.mailproxy logs, at DEBUG, with stack traces. */
    static final class LogCapture implements AutoCloseable {
        private final Logger logger = (Logger) LoggerFactory.getLogger("io.mailproxy");
        private final Level before = logger.getLevel();
        private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

        LogCapture() {
            appender.start();
            logger.addAppender(appender);
            logger.setLevel(Level.DEBUG);
        }

        String text() {
            return appender.list.stream().map(e -> e.getLevel() + " " + e.getFormattedMessage()
                    + (e.getThrowableProxy() == null ? "" : "\n" + ThrowableProxyUtil.asString(e.getThrowableProxy())))
                    .collect(Collectors.joining("\n"));
        }

        @Override
        public void close() {
            logger.detachAppender(appender);
            logger.setLevel(before);
        }
    }
}
