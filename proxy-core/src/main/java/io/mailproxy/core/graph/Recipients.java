package io.mailproxy.core.graph;

import java.util.List;

/** A draft's recipients, plain addresses ({@code local@domain}). */
public record Recipients(List<String> to, List<String> cc, List<String> bcc) {

    public Recipients {
        to = List.copyOf(to);
        cc = List.copyOf(cc);
        bcc = List.copyOf(bcc);
    }
}
