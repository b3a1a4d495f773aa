package io.mailproxy.testkit.graph;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A message as Graph's JSON shows it (the properties of MGDC api-reference/v1.0/resources/message.md; the shape of
 * user-post-messages.md's response, graph-evidence.md §2), with {@code $select} and the PidTagMessageSize extended
 * property.
 */
final class MessageJson {
    /** PidTagMessageSize as a single-value extended property id (MGDC singlevaluelegacyextendedproperty-get.md). */
    static final String SIZE_PROPERTY_TAG = "0x0e08";

    private MessageJson() { }

    static ObjectNode render(FakeGraph graph, GraphMessage m, Set<String> select, boolean expandSize) {
        ObjectNode all = Call.JSON.createObjectNode();
        all.put("@odata.etag", "W/\"CQAAABYAAAB" + Long.toHexString(m.modified().toEpochMilli()) + "\"");
        all.put("id", m.id());
        all.put("createdDateTime", Call.iso(m.received()));
        all.put("lastModifiedDateTime", Call.iso(m.modified()));
        all.put("changeKey", "CQAAABYAAAB" + Long.toHexString(m.modified().toEpochMilli()));
        all.putArray("categories");
        all.put("receivedDateTime", Call.iso(m.received()));
        all.put("sentDateTime", Call.iso(m.received()));
        all.put("hasAttachments", !m.attachments.isEmpty());
        MimeHeaders h = m.headers();
        if (h.messageId() != null) {
            all.put("internetMessageId", h.messageId());
        } else {
            all.putNull("internetMessageId");
        }
        all.put("subject", m.subject());
        all.put("bodyPreview", "");
        all.put("importance", "normal");
        all.put("parentFolderId", m.folderId());
        all.put("conversationId", "AAQkAD" + Integer.toHexString(m.subject().hashCode()));
        all.putNull("isDeliveryReceiptRequested");
        all.put("isReadReceiptRequested", false);
        all.put("isRead", m.read());
        all.put("isDraft", m.draft());
        all.put("webLink", "https://outlook.office365.com/owa/?ItemID=" + m.id() + "&exvsurl=1&viewmodel=ReadMessageItem");
        all.put("inferenceClassification", "focused");
        if (h.from() != null) {
            all.set("sender", recipient(h.from()));
            all.set("from", recipient(h.from()));
        }
        all.set("toRecipients", recipients(m.toRecipients()));
        all.set("ccRecipients", recipients(m.ccRecipients()));
        all.set("bccRecipients", recipients(m.bccRecipients()));
        all.putArray("replyTo");
        all.putObject("flag").put("flagStatus", "notFlagged");
        ObjectNode out;
        if (select == null) {
            out = all;
        } else {
            // $select returns the named properties plus id and @odata.etag (MGDC concepts/query-parameters.md).
            out = Call.JSON.createObjectNode();
            out.set("@odata.etag", all.get("@odata.etag"));
            out.set("id", all.get("id"));
            for (var it = all.fields(); it.hasNext(); ) {
                var e = it.next();
                if (select.contains(e.getKey().toLowerCase(Locale.ROOT))) {
                    out.set(e.getKey(), e.getValue());
                }
            }
        }
        if (expandSize) {
            // The id comes back in Exchange's own spelling, not as requested (observed "Integer 0xe08";
            // graph-evidence.md §6, (O)); the value is a string, as for every legacy extended property.
            ArrayNode props = out.putArray("singleValueExtendedProperties");
            ObjectNode p = props.addObject();
            p.put("id", "Integer 0xe08");
            p.put("value", Long.toString(m.sizeEstimate()));
        }
        return out;
    }

    static ObjectNode recipient(EmailAddress a) {
        ObjectNode r = Call.JSON.createObjectNode();
        ObjectNode e = r.putObject("emailAddress");
        e.put("name", a.name().isEmpty() ? a.address() : a.name());
        e.put("address", a.address());
        return r;
    }

    static ArrayNode recipients(List<EmailAddress> list) {
        ArrayNode arr = Call.JSON.createArrayNode();
        list.forEach(a -> arr.add(recipient(a)));
        return arr;
    }

    /** {@code [{"emailAddress":{"address":..,"name":..}}]}; null when malformed. */
    static List<EmailAddress> parseRecipients(JsonNode node) {
        if (node == null || !node.isArray()) {
            return null;
        }
        List<EmailAddress> out = new ArrayList<>();
        for (JsonNode r : node) {
            JsonNode e = r.get("emailAddress");
            if (e == null || !e.hasNonNull("address")) {
                return null;
            }
            out.add(new EmailAddress(e.path("name").asText(""), e.get("address").asText()));
        }
        return out;
    }
}
