package io.mailproxy.pop3.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.graph.MessageInfo;
import io.mailproxy.core.graph.MessagePage;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class GraphListingTest {

    private static MessageInfo m(String id, long size, boolean draft) {
        return new MessageInfo(id, size, false, draft, Instant.EPOCH);
    }

    @Test
    void aMessageListedOnTwoPagesIsOneMessageAndDraftsAreLeftOut() {
        GraphListing.Builder b = new GraphListing.Builder();
        b.add(new MessagePage(List.of(m("a", 10, false), m("b", 20, false)), Optional.of("next")));
        // the folder changed between pages: "b" shifted onto the second page as well
        b.add(new MessagePage(List.of(m("b", 20, false), m("d", 5, true), m("c", 30, false)), Optional.empty()));
        GraphListing listing = b.build();
        assertThat(listing.pop3().size()).isEqualTo(3);
        assertThat(List.of(listing.id(0), listing.id(1), listing.id(2))).containsExactly("a", "b", "c");
        assertThat(listing.pop3().octets()).isEqualTo(60);
    }

    @Test
    void theUniqueIdIsAStableCaseSensitiveHashWithinRfc1939Limits() {
        String id = "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AbjS4BQ4o-EGuLz1F9nMbpQAAAAABDAAA";
        String uid = GraphListing.uniqueId(id);
        assertThat(uid).hasSize(43).matches("[A-Za-z0-9_-]+").isEqualTo(GraphListing.uniqueId(id));
        assertThat(GraphListing.uniqueId(id.toLowerCase(java.util.Locale.ROOT))).isNotEqualTo(uid);
    }
}
