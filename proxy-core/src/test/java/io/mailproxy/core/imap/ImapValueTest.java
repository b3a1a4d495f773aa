package io.mailproxy.core.imap;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class ImapValueTest {

    private static List<ImapValue> values(String raw) {
        return new ImapResponse(null, raw.getBytes(StandardCharsets.UTF_8)).values();
    }

    @Test
    void parsesFetchWithLiteralsAndSections() {
        List<ImapValue> v = values("* 12 FETCH (UID 42 RFC822.SIZE 1234 FLAGS (\\Seen \\*) BODY[HEADER.FIELDS (FROM TO)]<0> {5}\r\nab\"c) INTERNALDATE NIL)");
        assertThat(v).hasSize(3);
        assertThat(((ImapValue.Atom) v.get(0)).asLong()).isEqualTo(12);
        assertThat(((ImapValue.Atom) v.get(1)).is("fetch")).isTrue();
        List<ImapValue> items = ((ImapValue.Parens) v.get(2)).items();
        assertThat(items.get(0)).isEqualTo(new ImapValue.Atom("UID"));
        assertThat(items.get(1)).isEqualTo(new ImapValue.Atom("42"));
        assertThat(items.get(5)).isEqualTo(new ImapValue.Parens(List.of(new ImapValue.Atom("\\Seen"), new ImapValue.Atom("\\*"))));
        assertThat(items.get(6)).isEqualTo(new ImapValue.Atom("BODY[HEADER.FIELDS (FROM TO)]<0>"));
        assertThat(items.get(7).asText()).isEqualTo("ab\"c)");
        assertThat(items.get(9)).isEqualTo(ImapValue.Nil.INSTANCE);
    }

    @Test
    void parsesListWithQuotedAndLiteralNames() {
        List<ImapValue> v = values("* LIST (\\HasNoChildren \\Trash) \"/\" \"Deleted \\\"Items\\\"\"");
        assertThat(v.get(3).asText()).isEqualTo("Deleted \"Items\"");
        assertThat(v.get(2).asText()).isEqualTo("/");
        List<ImapValue> w = values("* LIST () NIL {9}\r\nEntw&APw-");
        assertThat(w.get(2)).isEqualTo(ImapValue.Nil.INSTANCE);
        assertThat(w.get(3).asText()).isEqualTo("Entw&APw-");
        assertThat(new ImapResponse(null, "* SEARCH 4 9".getBytes(StandardCharsets.US_ASCII)).isA("SEARCH")).isTrue();
        assertThat(new ImapResponse(null, "* 4 EXISTS".getBytes(StandardCharsets.US_ASCII)).isA("EXISTS")).isTrue();
    }

    @Test
    void modifiedUtf7RoundTrips() {
        assertThat(ModifiedUtf7.encode("Entwürfe")).isEqualTo("Entw&APw-rfe");
        assertThat(ModifiedUtf7.encode("A&B")).isEqualTo("A&-B");
        assertThat(ModifiedUtf7.encode("~peter/mail/台北/日本語")).isEqualTo("~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assertThat(ModifiedUtf7.decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-")).isEqualTo("~peter/mail/台北/日本語");
        assertThat(ModifiedUtf7.decode("A&-B")).isEqualTo("A&B");
        assertThat(ModifiedUtf7.decode("Gel&APY-schte Elemente")).isEqualTo("Gelöschte Elemente");
        assertThat(ModifiedUtf7.decode("broken&")).isEqualTo("broken&");
        assertThat(ModifiedUtf7.quoted("a\"b")).isEqualTo("\"a\\\"b\"");
    }
}
