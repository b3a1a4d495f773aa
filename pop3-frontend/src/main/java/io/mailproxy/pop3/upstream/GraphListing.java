package io.mailproxy.pop3.upstream;

import io.mailproxy.core.graph.MessageInfo;
import io.mailproxy.core.graph.MessagePage;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The listing of a Graph mail folder at login: the messages of every page, in the order Graph listed them (oldest
 * first), numbered from 1, each with Exchange's size estimate ({@link MessageInfo#size()}). A message listed twice
 * (the folder changed between pages) is kept once; drafts are left out. Plain Java.
 *
 * <p>Unique-ids (RFC 1939 section 7: 1 to 70 characters from 0x21 to 0x7E) are {@link #uniqueId}: Graph's immutable
 * ids are about 150 characters, too long for UIDL, so each becomes the unpadded base64url of its SHA-256 (43
 * characters). The immutable id survives moves within the mailbox (microsoft-graph-docs-contrib
 * {@code concepts/outlook-immutable-id.md}), so the unique-id does too.
 */
final class GraphListing {
    private static final Base64.Encoder BASE64URL = Base64.getUrlEncoder().withoutPadding();

    private final String[] ids;
    private final Pop3Listing listing;

    private GraphListing(String[] ids, long[] sizes) {
        this.ids = ids;
        this.listing = new Pop3Listing(sizes, i -> uniqueId(ids[i]));
    }

    /** The UIDL of a message: base64url (no padding) of the SHA-256 of its immutable id, 43 characters. */
    static String uniqueId(String immutableId) {
        try {
            // ids are case-sensitive (outlook-immutable-id.md): hash them exactly as Graph sent them
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(immutableId.getBytes(StandardCharsets.UTF_8));
            return BASE64URL.encodeToString(hash);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }

    /** Graph's immutable id of the message at {@code index}. */
    String id(int index) {
        return ids[index];
    }

    /** Numbering, sizes, unique-ids and DELE marks. */
    Pop3Listing pop3() {
        return listing;
    }

    /** The immutable ids of the messages marked deleted, in message-number order. */
    List<String> markedIds() {
        return Arrays.stream(listing.marked()).mapToObj(i -> ids[i]).toList();
    }

    /** Collects the pages of a listing (any thread, one at a time). */
    static final class Builder {
        private final List<MessageInfo> messages = new ArrayList<>();
        private final Set<String> seen = new HashSet<>();
        private final int max;
        private int pages;
        private boolean truncated;

        /** An unbounded listing. */
        Builder() {
            this(Integer.MAX_VALUE);
        }

        /** A listing of at most {@code max} messages: the first listed (the oldest); the rest are left out. */
        Builder(int max) {
            this.max = max;
        }

        void add(MessagePage page) {
            pages++;
            for (MessageInfo m : page.messages()) {
                if (!m.draft() && !seen.contains(m.id())) {
                    if (messages.size() >= max) {
                        truncated = true;
                        return;
                    }
                    seen.add(m.id());
                    messages.add(m);
                }
            }
            if (messages.size() >= max && page.next().isPresent()) {
                truncated = true; // more pages: at least one more message, or none left to list
            }
        }

        /** True once the listing holds {@code max} messages and the folder has (or may have) more: stop paging. */
        boolean full() {
            return truncated;
        }

        int pages() {
            return pages;
        }

        GraphListing build() {
            String[] ids = new String[messages.size()];
            long[] sizes = new long[messages.size()];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = messages.get(i).id();
                sizes[i] = Math.max(0, messages.get(i).size());
            }
            return new GraphListing(ids, sizes);
        }
    }
}
