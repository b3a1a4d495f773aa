package io.mailproxy.core.graph;

import java.util.Optional;

/**
 * One attachment to add to a draft (an {@code attachmentItem} for an upload session, or a {@code fileAttachment}).
 *
 * @param content the attachment's decoded bytes (not base64)
 */
public record AttachmentUpload(String name, String contentType, boolean inline, Optional<String> contentId,
                               MimeSource content) { }
