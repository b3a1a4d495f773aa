package io.mailproxy.pop3.upstream;

import io.mailproxy.core.imap.ImapResponse;
import io.mailproxy.core.imap.ImapValue;
import java.util.Arrays;
import java.util.List;

/**
 * The listing of an IMAP folder at login: the UIDs that {@code UID SEARCH ALL} (or {@code UNSEEN}, for only-unseen)
 * found, ascending, numbered from 1, each with the RFC822.SIZE of {@code UID FETCH 1:* (UID RFC822.SIZE)}; a UID the
 * FETCH gave no size for (expunged in between) is left out. Unique-ids are {@code <uidvalidity>.<uid>}. Plain Java.
 */
final class ImapListing {
    /** Fetches every message's UID and size; the listing keeps those SEARCH found. */
    static final String SIZES = "UID FETCH 1:* (UID RFC822.SIZE)";

    private final long uidValidity;
    private final long[] uids;
    private final Pop3Listing listing;

    private ImapListing(long uidValidity, long[] uids, long[] sizes) {
        this.uidValidity = uidValidity;
        this.uids = uids;
        this.listing = new Pop3Listing(sizes, i -> uidValidity + "." + uids[i]);
    }

    /** The search that chooses the messages of the maildrop. */
    static String search(boolean onlyUnseen) {
        return onlyUnseen ? "UID SEARCH UNSEEN" : "UID SEARCH ALL";
    }

    /** An empty folder (or nothing unseen). */
    static ImapListing empty(long uidValidity) {
        return new ImapListing(uidValidity, new long[0], new long[0]);
    }

    long uidValidity() {
        return uidValidity;
    }

    /** The UID of the message at {@code index}. */
    long uid(int index) {
        return uids[index];
    }

    /** Numbering, sizes, unique-ids and DELE marks. */
    Pop3Listing pop3() {
        return listing;
    }

    /** The UIDs of the messages marked deleted, ascending. */
    List<Long> markedUids() {
        return Arrays.stream(listing.marked()).mapToObj(i -> uids[i]).toList();
    }

    /** Builds a listing from the SEARCH result and the FETCH responses that follow it. */
    static final class Builder {
        private final long uidValidity;
        private final long[] found;
        private final long[] sizesByUid;

        /** The number of UIDs SEARCH found, before {@code max}. */
        private final int searchedCount;

        /** @param searched the SEARCH result as the server sent it (any order, repeats, zero) */
        Builder(long uidValidity, long[] searched) {
            this(uidValidity, searched, Integer.MAX_VALUE);
        }

        /** A listing of at most {@code max} messages: the lowest UIDs (the oldest). */
        Builder(long uidValidity, long[] searched, int max) {
            this.uidValidity = uidValidity;
            long[] all = Arrays.stream(searched).filter(n -> n > 0).sorted().distinct().toArray();
            this.searchedCount = all.length;
            this.found = all.length > max ? Arrays.copyOf(all, max) : all;
            this.sizesByUid = new long[found.length];
            Arrays.fill(sizesByUid, -1);
        }

        /** How many messages SEARCH found beyond {@code max} (0 when none were left out). */
        int leftOut() {
            return searchedCount - found.length;
        }

        /** True when SEARCH found nothing: no FETCH is needed. */
        boolean isEmpty() {
            return found.length == 0;
        }

        /** {@code * 3 FETCH (UID 45 RFC822.SIZE 1234)}: records the size when the UID is in the maildrop. */
        void fetched(ImapResponse response) {
            if (!response.isA("FETCH")) {
                return;
            }
            long uid = -1;
            long size = -1;
            for (ImapValue v : response.values()) {
                if (v instanceof ImapValue.Parens p) {
                    List<ImapValue> items = p.items();
                    for (int i = 0; i + 1 < items.size(); i++) {
                        if (items.get(i) instanceof ImapValue.Atom key && items.get(i + 1) instanceof ImapValue.Atom val) {
                            if (key.is("UID")) {
                                uid = parseLongOr(val.value(), -1);
                            } else if (key.is("RFC822.SIZE")) {
                                size = parseLongOr(val.value(), -1);
                            }
                        }
                    }
                }
            }
            int index = uid < 0 ? -1 : Arrays.binarySearch(found, uid);
            if (index >= 0 && size >= 0) {
                sizesByUid[index] = size;
            }
        }

        /** The listing: the UIDs found that have a size, ascending. */
        ImapListing build() {
            int n = 0;
            for (long s : sizesByUid) {
                if (s >= 0) {
                    n++;
                }
            }
            long[] u = new long[n];
            long[] z = new long[n];
            int j = 0;
            for (int i = 0; i < found.length; i++) {
                if (sizesByUid[i] >= 0) {
                    u[j] = found[i];
                    z[j++] = sizesByUid[i];
                }
            }
            return new ImapListing(uidValidity, u, z);
        }
    }

    static long parseLongOr(String s, long fallback) {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            return fallback;
        }
    }
}
