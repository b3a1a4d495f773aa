package io.mailproxy.imap.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.imap.policy.ClientPolicy;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ResponseFilterTest {

    private static final ClientPolicy FOLDERS = ClientPolicy.of(new ClientConfig.ImapPolicy(false, List.of("INBOX")));

    private final ResponseFilter open = new ResponseFilter(ClientPolicy.NONE, 1024, "s1");
    private final ResponseFilter folders = new ResponseFilter(FOLDERS, 1024, "s1");

    /** The response (segments split at "|"), and what the allow-list lets through: all of it, or nothing. */
    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = ';', textBlock = """
            * LIST (\\HasNoChildren) "/" INBOX\\r\\n          ; shown
            * LIST (\\HasNoChildren) "/" Junk\\r\\n           ; dropped
            *  list () "/" Junk\\r\\n                        ; dropped
            * LIST () "/" {5}\\r\\n|INBOX|\\r\\n              ; shown
            * LIST () "/" {4}\\r\\n|Junk|\\r\\n               ; dropped
            * LIST (\\Noselect) "/" ""\\r\\n                 ; shown
            * STATUS INBOX (MESSAGES 2)\\r\\n               ; shown
            * STATUS Junk (MESSAGES 9)\\r\\n                ; dropped
            * LSUB () "/" Junk\\r\\n                        ; dropped
            * XLIST () "/" Junk\\r\\n                       ; dropped
            """)
    void anAllowListJudgesWholeResponses(String response, String verdict) {
        String[] parts = response.replace("\\r\\n", "\r\n").split("\\|");
        assertThat(folders.begin(parts[0], ByteBufAllocator.DEFAULT)).isTrue();
        for (String part : parts) {
            ByteBuf b = bytes(part);
            folders.add(b);
            b.release();
        }
        ByteBuf shown = folders.end();
        assertThat(folders.holding()).isFalse();
        if (verdict.equals("shown")) {
            assertThat(text(shown)).isEqualTo(String.join("", parts));
        } else {
            assertThat(shown).isNull();
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', textBlock = """
            * SEARCH 1 2 3
            * ESEARCH (TAG "a") UID ALL 1:3
            * 4 EXISTS
            * OK [UIDVALIDITY 7] UIDs valid
            * CAPABILITY IMAP4rev1
            """)
    void otherResponsesAreNotHeld(String response) {
        assertThat(folders.begin(response, ByteBufAllocator.DEFAULT)).isFalse();
        assertThat(folders.holding()).isFalse();
    }

    @Test
    void withoutAnAllowListNothingIsHeld() {
        assertThat(open.begin("* LIST () \"/\" Junk", ByteBufAllocator.DEFAULT)).isFalse();
        assertThat(open.holding()).isFalse();
    }

    @Test
    void aResponseOverTheLimitIsDropped() {
        assertThat(folders.begin("* LIST () \"/\" {2000}\r\n", ByteBufAllocator.DEFAULT)).isTrue();
        for (String part : new String[] {"* LIST () \"/\" {2000}\r\n", "INBOX" + "x".repeat(1995), "\r\n"}) {
            ByteBuf b = bytes(part);
            folders.add(b);
            b.release();
        }
        assertThat(folders.end()).isNull();
    }

    @Test
    void discardReleasesWhatIsHeld() {
        folders.begin("* LIST () \"/\" INBOX\r\n", ByteBufAllocator.DEFAULT);
        ByteBuf b = bytes("* LIST () \"/\" INBOX\r\n");
        folders.add(b);
        folders.discard();
        assertThat(folders.holding()).isFalse();
        assertThat(b.refCnt()).isEqualTo(1);
        b.release();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', nullValues = "none", textBlock = """
            * CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR IDLE COMPRESS=DEFLATE LITERAL+ ; * CAPABILITY IMAP4rev1 IDLE LITERAL+ ; * CAPABILITY IMAP4rev1 IDLE LITERAL+
            * capability IMAP4REV1 UTF8=ACCEPT NOTIFY MOVE                              ; * capability IMAP4rev1 UTF8=ACCEPT NOTIFY MOVE ; * capability IMAP4rev1 MOVE
            * OK [CAPABILITY IMAP4rev1 IDLE] ready                                     ; none ; none
            * LIST () "/" INBOX                                                        ; none ; none
            """)
    void capabilitiesAreRewrittenAndHideWhatAnAllowListRefuses(String response, String open, String folders) {
        assertThat(this.open.capabilities(response)).isEqualTo(open);
        assertThat(this.folders.capabilities(response)).isEqualTo(folders);
    }

    private static ByteBuf bytes(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    private static String text(ByteBuf b) {
        try {
            return b.toString(StandardCharsets.UTF_8);
        } finally {
            b.release();
        }
    }
}
