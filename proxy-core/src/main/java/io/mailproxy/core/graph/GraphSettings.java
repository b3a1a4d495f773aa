package io.mailproxy.core.graph;

/**
 * Limits of the Graph client for one upstream (keys {@code graph-concurrency}, {@code graph-queue},
 * {@code graph-max-request}, {@code graph-upload-chunk} of the upstream template).
 *
 * @param concurrency         requests in flight per mailbox. Outlook allows "4 concurrent requests" per app ID and
 *                            mailbox (microsoft-graph-docs-contrib concepts/throttling-limits.md, "Outlook service
 *                            limits"; docs/research/graph-evidence.md section 5); a fifth gets {@code 429
 *                            ApplicationThrottled} "over its MailboxConcurrency limit"
 * @param queue               requests waiting per mailbox beyond that, first in first out; one more fails at once
 *                            with {@link GraphException.Kind#THROTTLED}
 * @param maxMimeRequestBytes the largest MIME message (before base64) in one sendMail or MIME-draft request, and the
 *                            largest attachment sent inline as {@code contentBytes}. Graph limits "the total size of
 *                            each REST request" to 4 MB (message-post-attachments.md; 413 beyond, user-post-messages.md),
 *                            measured on the base64 body (evidence section 3). Taking 4 MB as 4,000,000 bytes (the
 *                            smaller reading) and keeping 16 KiB for the request line and headers (the bearer token
 *                            alone is 1.5 to 3 KB), base64's 4 bytes per 3 leave (4,000,000 - 16,384) * 3 / 4 =
 *                            2,987,712 bytes (2.85 MiB)
 * @param uploadChunkBytes    bytes per PUT of an attachment upload session: Microsoft asks to "keep each byte range
 *                            less than 4 MB" (concepts/outlook-large-attachments.md); a multiple of 320 KiB, which
 *                            OneDrive's sessions require and Outlook's accept. 12 x 320 KiB = 3.75 MiB (3,932,160
 *                            bytes): 40 PUTs for a 150 MB attachment. Each chunk streams from the source; none is held
 */
public record GraphSettings(int concurrency, int queue, long maxMimeRequestBytes, int uploadChunkBytes) {

    /** 320 KiB: upload chunks are a multiple of it. */
    public static final int CHUNK_UNIT = 320 * 1024;
    /** The defaults, as reference.conf's upstream template has them. */
    public static final GraphSettings DEFAULTS = new GraphSettings(4, 100, 2_987_712L, 12 * CHUNK_UNIT);

    public GraphSettings {
        if (concurrency < 1 || queue < 0 || maxMimeRequestBytes < 1024 || uploadChunkBytes < CHUNK_UNIT
                || uploadChunkBytes % CHUNK_UNIT != 0 || uploadChunkBytes >= 60 * 1024 * 1024) {
            throw new IllegalArgumentException("graph settings out of range: " + concurrency + ", " + queue + ", "
                    + maxMimeRequestBytes + ", " + uploadChunkBytes + " (chunk: a multiple of 320 KiB under 60 MiB)");
        }
    }
}
