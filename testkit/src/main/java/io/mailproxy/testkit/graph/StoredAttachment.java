package io.mailproxy.testkit.graph;

import java.util.HexFormat;
import java.util.Optional;

/**
 * An attachment added to a draft, by a {@code fileAttachment} POST or an upload session. Large ones are not kept:
 * only their size and SHA-256 (the fake never holds a 150 MB attachment in memory).
 *
 * @param bytes the content when it is at most {@link FakeGraph#keepAttachmentBytesUpTo(long)}
 */
public record StoredAttachment(String id, String name, String contentType, boolean inline, Optional<String> contentId,
                               long size, byte[] sha256, Optional<byte[]> bytes, boolean uploadSession) {

    /** The SHA-256 of the content, lower-case hex. */
    public String sha256Hex() {
        return HexFormat.of().formatHex(sha256);
    }
}
