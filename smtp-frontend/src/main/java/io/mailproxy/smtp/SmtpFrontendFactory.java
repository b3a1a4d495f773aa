package io.mailproxy.smtp;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.spi.Frontend;
import io.mailproxy.core.spi.FrontendFactory;
import io.mailproxy.smtp.session.SmtpSettings;

/** The SMTP submission frontend, found by the runtime through {@link java.util.ServiceLoader}. */
public final class SmtpFrontendFactory implements FrontendFactory {

    @Override
    public Protocol protocol() {
        return Protocol.SMTP;
    }

    /** Reads and validates {@code mailproxy.smtp} (a bad value is a {@link io.mailproxy.core.config.ConfigException}). */
    @Override
    public Frontend create(CoreServices services) {
        var config = services.config();
        return new SmtpFrontend(services, SmtpSettings.from(config.section("smtp"), config.source()));
    }
}
