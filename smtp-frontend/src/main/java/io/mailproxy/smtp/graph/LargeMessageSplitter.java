package io.mailproxy.smtp.graph;

import java.io.IOException;
import java.nio.file.Path;

/** Finds the parts to take out and writes the reduced message (first version: not yet splitting). */
final class LargeMessageSplitter {

    private LargeMessageSplitter() { }

    static LargeMessage split(Path message, long maxRequestBytes, Path workDir, long maxAttachmentBytes)
            throws IOException, LargeMessage.Unsplittable {
        throw new LargeMessage.Unsplittable(LargeMessage.Unsplittable.Reason.MALFORMED, "splitting not implemented yet");
    }
}
