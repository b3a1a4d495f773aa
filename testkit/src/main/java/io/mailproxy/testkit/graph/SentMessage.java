package io.mailproxy.testkit.graph;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * A message Graph accepted for sending (202), by {@code sendMail} or by {@code send} on a draft.
 *
 * @param mailbox     the mailbox that sent it
 * @param mime        the MIME message as posted (a draft's MIME is kept as created: Exchange would regenerate it
 *                    with the draft's recipient table, the fake does not)
 * @param to          the recipients Graph sends to, by role: for sendMail the MIME's To/Cc/Bcc headers, for a draft its
 *                    recipient table after any PATCH (MGDC concepts/outlook-things-to-know-about-send-mail.md, steps 1
 *                    and 3: "copies recipients from the MIME headers into the recipient table")
 * @param viaDraft    whether it was sent with {@code POST .../messages/{id}/send}
 * @param attachments the draft's attachments (empty for sendMail: its attachments are inside the MIME)
 */
public record SentMessage(String mailbox, byte[] mime, List<String> to, List<String> cc, List<String> bcc,
                          boolean viaDraft, List<StoredAttachment> attachments, Instant at) {

    /** Every address Graph delivers to: To, Cc and Bcc, in that order. */
    public List<String> recipients() {
        List<String> all = new ArrayList<>(to);
        all.addAll(cc);
        all.addAll(bcc);
        return all;
    }

    /** The MIME as text (ISO-8859-1, byte for byte). */
    public String mimeText() {
        return new String(mime, StandardCharsets.ISO_8859_1);
    }
}
