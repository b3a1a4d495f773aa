package io.mailproxy.smtp.graph;

import io.mailproxy.core.graph.AttachmentUpload;
import io.mailproxy.core.graph.MimeSource;
import io.mailproxy.smtp.codec.SmtpReply;
import io.mailproxy.smtp.graph.GraphSubmission.Refused;
import io.mailproxy.smtp.graph.GraphSubmission.SplitMessage;
import io.mailproxy.smtp.graph.GraphSubmission.Splitter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * {@link LargeMessage#split} as {@link GraphSubmission}'s {@link Splitter}: what cannot be split
 * ({@link LargeMessage.Unsplittable}) is refused for good, with a reply that says why.
 */
public final class GraphSplitter {

    /** Graph takes one attachment up to 150 MB through an upload session (concepts/outlook-large-attachments.md). */
    static final SmtpReply ATTACHMENT_TOO_BIG = SmtpReply.of(552, "5.3.4 An attachment is over Microsoft Graph's"
            + " limit of 150 MB");
    static final SmtpReply REDUCED_TOO_BIG = SmtpReply.of(552, "5.3.4 Message too big for one Microsoft Graph"
            + " request even without its attachments");
    static final SmtpReply MALFORMED = SmtpReply.of(554, "5.6.0 Message too big for one Microsoft Graph request"
            + " and its MIME structure cannot be split");

    /** The daemon's splitter: Jakarta Mail over the spool file, streamed (h16-mime's {@link LargeMessage}). */
    public static final Splitter LARGE_MESSAGE = GraphSplitter::split;

    private GraphSplitter() {
    }

    static SplitMessage split(Path message, long maxRequestBytes, Path workDir) throws IOException, Refused {
        LargeMessage split;
        try {
            split = LargeMessage.split(message, maxRequestBytes, workDir);
        } catch (LargeMessage.Unsplittable e) {
            throw new Refused(reply(e.reason()), e.reason() + ": " + e.getMessage());
        }
        return new SplitMessage() {
            @Override
            public MimeSource reduced() {
                return split.reduced();
            }

            @Override
            public List<AttachmentUpload> attachments() {
                return split.attachments();
            }

            @Override
            public void close() throws IOException {
                split.close();
            }
        };
    }

    static SmtpReply reply(LargeMessage.Unsplittable.Reason reason) {
        return switch (reason) {
            case SIGNED_OR_ENCRYPTED -> GraphSubmission.SIGNED_TOO_BIG;
            case TOO_BIG_WITHOUT_ATTACHMENTS -> REDUCED_TOO_BIG;
            case ATTACHMENT_TOO_BIG -> ATTACHMENT_TOO_BIG;
            case MALFORMED -> MALFORMED;
        };
    }
}
