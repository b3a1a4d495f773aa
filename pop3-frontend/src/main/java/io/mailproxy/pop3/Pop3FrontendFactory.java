package io.mailproxy.pop3;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.spi.Frontend;
import io.mailproxy.core.spi.FrontendFactory;
import io.mailproxy.pop3.session.Pop3Frontend;

/** Registers the POP3 frontend with the runtime (META-INF/services). */
public final class Pop3FrontendFactory implements FrontendFactory {

    @Override
    public Protocol protocol() {
        return Protocol.POP3;
    }

    @Override
    public Frontend create(CoreServices services) {
        return new Pop3Frontend(services);
    }
}
