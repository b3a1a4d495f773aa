package io.mailproxy.core.graph;

import java.util.List;
import java.util.Optional;

/** One page of a folder listing; {@code next} is Graph's {@code @odata.nextLink}, empty on the last page. */
public record MessagePage(List<MessageInfo> messages, Optional<String> next) {

    public MessagePage {
        messages = List.copyOf(messages);
    }
}
