package io.mailproxy.daemon.e2e;

import static io.mailproxy.daemon.e2e.E2eFixture.ALICE;
import static io.mailproxy.daemon.e2e.E2eFixture.ALICE_PW;
import static io.mailproxy.daemon.e2e.E2eFixture.POPPER;
import static io.mailproxy.daemon.e2e.E2eFixture.POPPER_PW;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The account's connection limit, folder allow-lists and shutdown goodbyes, through the assembled daemon. */
class LimitsAndShutdownEndToEndTest {

    @TempDir
    Path state;

    private static String smtpLine(LineClient c) throws Exception {
        String l;
        do {
            l = c.line();
        } while (l != null && l.length() > 3 && l.charAt(3) == '-');
        return l;
    }

    @Test
    void aLoginBeyondTheAccountsConnectionLimitIsLimit() throws Exception {
        String extra = "accounts.\"reports@contoso.com\".pool.imap { max = 2, acquire-timeout = 1s }";
        try (E2eFixture f = E2eFixture.start(state, extra)) {
            List<LineClient> holding = new ArrayList<>();
            try {
                for (int i = 0; i < 2; i++) {
                    LineClient c = LineClient.connect(f.imap());
                    holding.add(c);
                    c.line();
                    assertThat(c.imap("a", "LOGIN " + ALICE + " " + ALICE_PW)).last().asString().startsWith("a OK");
                }
                try (LineClient third = LineClient.connect(f.imap())) {
                    third.line();
                    assertThat(third.imap("a", "LOGIN " + ALICE + " " + ALICE_PW)).last().asString()
                            .startsWith("a NO [LIMIT]");
                }
                holding.get(0).imap("z", "LOGOUT");
                holding.remove(0).close();
                try (LineClient again = LineClient.connect(f.imap())) {
                    again.line();
                    assertThat(again.imap("a", "LOGIN " + ALICE + " " + ALICE_PW)).last().asString().startsWith("a OK");
                }
            } finally {
                for (LineClient c : holding) {
                    c.close();
                }
            }
        }
    }

    @Test
    void folderAllowListFiltersListAndRefusesOtherMailboxes() throws Exception {
        String extra = "clients.alice.imap.folders = [INBOX, \"Archive\"]";
        try (E2eFixture f = E2eFixture.start(state, extra)) {
            try (LineClient direct = f.directImap()) {
                direct.imap("c1", "CREATE Archive");
                direct.imap("c2", "CREATE Secret");
            }
            try (LineClient c = LineClient.connect(f.imap())) {
                c.line();
                c.imap("a", "LOGIN " + ALICE + " " + ALICE_PW);
                String list = String.join("\n", c.imap("b", "LIST \"\" \"*\""));
                assertThat(list).contains("INBOX").contains("Archive").doesNotContain("Secret");
                assertThat(c.imap("c", "SELECT Secret")).last().asString().startsWith("c NO");
                assertThat(c.imap("d", "STATUS Secret (MESSAGES)")).last().asString().startsWith("d NO");
                assertThat(c.imap("e", "SELECT Archive")).last().asString().startsWith("e OK");
                c.imap("z", "LOGOUT");
            }
        }
    }

    @Test
    void shutdownSaysGoodbyeInEachProtocol() throws Exception {
        E2eFixture f = E2eFixture.start(state);
        LineClient imap = LineClient.connect(f.imap());
        LineClient smtp = LineClient.connect(f.smtp());
        LineClient pop3 = E2eFixture.hasPop3() ? LineClient.connect(f.pop3()) : null;
        try {
            imap.line();
            assertThat(imap.imap("a", "LOGIN " + ALICE + " " + ALICE_PW)).last().asString().startsWith("a OK");
            imap.imap("b", "SELECT INBOX");
            smtpLine(smtp);
            smtp.send("EHLO legacy.example");
            smtpLine(smtp);
            smtp.send("AUTH PLAIN " + Base64.getEncoder().encodeToString(("\0" + ALICE + "\0" + ALICE_PW)
                    .getBytes(StandardCharsets.UTF_8)));
            assertThat(smtpLine(smtp)).startsWith("235 ");
            if (pop3 != null) {
                pop3.line();
                pop3.send("USER " + POPPER);
                pop3.line();
                pop3.send("PASS " + POPPER_PW);
                assertThat(pop3.line()).startsWith("+OK");
            }
            f.close();
            assertThat(imap.line()).startsWith("* BYE [UNAVAILABLE]");
            assertThat(smtp.line()).startsWith("421 4.3.2");
            if (pop3 != null) {
                assertThat(pop3.line()).startsWith("-ERR [SYS/TEMP]");
            }
            assertThat(imap.isClosedByPeer()).isTrue();
            assertThat(smtp.isClosedByPeer()).isTrue();
        } finally {
            f.close();
            imap.close();
            smtp.close();
            if (pop3 != null) {
                pop3.close();
            }
        }
    }
}
