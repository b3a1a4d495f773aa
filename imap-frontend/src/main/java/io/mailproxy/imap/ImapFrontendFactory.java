package io.mailproxy.imap;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.spi.Frontend;
import io.mailproxy.core.spi.FrontendFactory;

/** Registers the IMAP frontend with the runtime (ServiceLoader). */
public final class ImapFrontendFactory implements FrontendFactory {

    @Override
    public Protocol protocol() {
        return Protocol.IMAP;
    }

    @Override
    public Frontend create(CoreServices services) {
        return new ImapFrontend(services);
    }
}
