package io.mailproxy.pop3.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mailproxy.core.config.ClientConfig.OnDelete;
import io.mailproxy.core.config.ClientConfig.Pop3Policy;
import io.mailproxy.core.graph.GraphException;
import io.mailproxy.pop3.testing.InMemoryGraph;
import io.mailproxy.pop3.testing.Pop3Client;
import io.mailproxy.pop3.testing.ProxyServer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** source = graph against an in-memory {@link io.mailproxy.core.graph.GraphMail}: what a POP3 client sees, what Graph is asked. */
class GraphMaildropTest {

    private final InMemoryGraph graph = new InMemoryGraph();
    private ProxyServer proxy;

    @BeforeEach
    void start() throws Exception {
        proxy = new ProxyServer(1, "u", "p");
        proxy.core.graph = graph;
        graph.folders.put("inbox", new java.util.concurrent.CopyOnWriteArrayList<>());
        graph.folders.put("deleteditems", new java.util.concurrent.CopyOnWriteArrayList<>());
        graph.folders.put("archive", new java.util.concurrent.CopyOnWriteArrayList<>());
        policy("inbox", false, "keep");
    }

    @AfterEach
    void stop() {
        proxy.close();
    }

    private void policy(String folder, boolean onlyUnseen, String onDelete) {
        proxy.core.client("alice", "secret",
                new Pop3Policy(Pop3Policy.Source.GRAPH, folder, onlyUnseen, OnDelete.parse(onDelete)));
    }

    private Pop3Client login() throws Exception {
        return login(proxy.port());
    }

    /** alice logged in (secret) on the proxy at {@code port}, in TRANSACTION. */
    static Pop3Client login(int port) throws Exception {
        Pop3Client c = new Pop3Client(port);
        assertThat(c.line()).isEqualTo("+OK mailproxy POP3 ready");
        assertThat(c.command("USER alice")).startsWith("+OK");
        assertThat(c.command("PASS secret")).startsWith("+OK maildrop has");
        return c;
    }

    static String message(String subject, int bodyLines) {
        StringBuilder b = new StringBuilder("From: sender@example.com\r\nTo: reports@contoso.com\r\nSubject: " + subject
                + "\r\n\r\n");
        for (int i = 1; i <= bodyLines; i++) {
            b.append(i % 3 == 0 ? ".dot-led line " + i : i % 5 == 0 ? "." : "line " + i).append("\r\n");
        }
        return b.toString();
    }

    private List<String> lines(byte[] body) {
        return Arrays.asList(new String(body, StandardCharsets.ISO_8859_1).split("\r\n", -1));
    }

    @Test
    void theMaildropIsEveryPageOfTheFolderOldestFirstWithTheEstimatedSizes() throws Exception {
        graph.pageSize = 3;
        List<String> ids = new ArrayList<>();
        for (int i = 1; i <= 7; i++) {
            ids.add(graph.add("inbox", message("m" + i, i)));
        }
        graph.find(ids.get(1)).orElseThrow().estimate = 4242;
        try (Pop3Client c = login()) {
            assertThat(c.command("STAT")).isEqualTo("+OK 7 " + graph.folders.get("inbox").stream().mapToLong(m -> m.estimate).sum());
            assertThat(c.command("LIST 2")).isEqualTo("+OK 2 4242");
            assertThat(c.command("LIST")).startsWith("+OK 7 messages");
            List<String> list = lines(c.body());
            assertThat(list).hasSize(8).startsWith("1 " + graph.find(ids.get(0)).orElseThrow().estimate, "2 4242");
            assertThat(c.command("RETR 7")).startsWith("+OK");
            assertThat(new String(c.body(), StandardCharsets.ISO_8859_1)).isEqualTo(message("m7", 7));
            assertThat(c.command("QUIT")).startsWith("+OK");
        }
        assertThat(graph.calls).filteredOn(s -> s.startsWith("list "))
                .containsExactly("list inbox unread=false from=0", "list inbox unread=false from=3",
                        "list inbox unread=false from=6");
        // as POP3 over IMAP reads with BODY.PEEK[], RETR never marks a message read
        assertThat(graph.calls).noneMatch(s -> s.startsWith("markRead "));
        assertThat(graph.folders.get("inbox")).noneMatch(m -> m.read);
    }

    @Test
    void aFolderOverMaxMessagesServesTheOldestAndStopsPaging() throws Exception {
        // memory per session is bounded by configuration (about 200 bytes a message): pop3.max-messages
        proxy.core.configure("pop3 { max-messages = 4 }");
        graph.pageSize = 3;
        List<String> ids = new ArrayList<>();
        for (int i = 1; i <= 10; i++) {
            ids.add(graph.add("inbox", message("m" + i, i)));
        }
        try (Pop3Client c = login()) {
            assertThat(c.command("STAT")).startsWith("+OK 4 ");
            assertThat(c.command("RETR 4")).startsWith("+OK");
            assertThat(new String(c.body(), StandardCharsets.ISO_8859_1)).isEqualTo(message("m4", 4));
            assertThat(c.command("RETR 5")).startsWith("-ERR");
            assertThat(c.command("QUIT")).startsWith("+OK");
        }
        assertThat(graph.calls).filteredOn(s -> s.startsWith("list "))
                .containsExactly("list inbox unread=false from=0", "list inbox unread=false from=3");
    }

    @Test
    void uidlIsShortPrintableAndStableAcrossSessionsAndMoves() throws Exception {
        String first = graph.add("inbox", message("a", 1));
        graph.add("inbox", message("b", 1));
        List<String> uidls;
        try (Pop3Client c = login()) {
            assertThat(c.command("UIDL")).startsWith("+OK");
            uidls = lines(c.body());
            c.command("QUIT");
        }
        assertThat(uidls).hasSize(3);
        for (String l : uidls.subList(0, 2)) {
            String uid = l.substring(l.indexOf(' ') + 1);
            assertThat(uid.length()).isBetween(1, 70);
            assertThat(uid.chars()).allMatch(ch -> ch >= 0x21 && ch <= 0x7e);
        }
        assertThat(uidls.get(0)).isNotEqualTo(uidls.get(1).replace("2 ", "1 "));
        try (Pop3Client c = login()) {
            assertThat(c.command("UIDL")).startsWith("+OK");
            assertThat(lines(c.body())).isEqualTo(uidls);
            c.command("QUIT");
        }
        // another client moves the first message to archive: its immutable id, so its UIDL, stays
        graph.moveNow(first, "archive");
        policy("archive", false, "keep");
        try (Pop3Client c = login()) {
            assertThat(c.command("UIDL 1")).isEqualTo("+OK " + uidls.get(0));
            c.command("QUIT");
        }
    }

    @Test
    void retrIsDotStuffedWhereverTheBodyIsSplit() throws Exception {
        String m = "Subject: dots\r\n\r\n.\r\n..\r\n.x\r\nend.\r\n.\r\n";
        graph.add("inbox", m);
        try (Pop3Client c = login()) {
            for (int chunk = 1; chunk <= m.length(); chunk++) {
                graph.chunkSize = chunk;
                assertThat(c.command("RETR 1")).startsWith("+OK");
                assertThat(new String(c.body(), StandardCharsets.ISO_8859_1)).as("chunks of %d", chunk).isEqualTo(m);
            }
            assertThat(c.command("QUIT")).startsWith("+OK");
        }
    }

    @Test
    void retrEndsBareLfLinesWithCrlfWhereverTheBodyIsSplit() throws Exception {
        String m = "Subject: lf\n\n.a\r\nb\n.\nc";
        graph.add("inbox", m);
        try (Pop3Client c = login()) {
            for (int chunk = 1; chunk <= m.length(); chunk++) {
                graph.chunkSize = chunk;
                assertThat(c.command("RETR 1")).startsWith("+OK");
                assertThat(new String(c.body(), StandardCharsets.ISO_8859_1)).as("chunks of %d", chunk)
                        .isEqualTo("Subject: lf\r\n\r\n.a\r\nb\r\n.\r\nc\r\n");
            }
        }
    }

    @Test
    void topSendsTheHeaderAndNLinesThenCancelsTheDownload() throws Exception {
        graph.add("inbox", message("top", 200_000));
        graph.chunkSize = 1000;
        try (Pop3Client c = login()) {
            assertThat(c.command("TOP 1 0")).startsWith("+OK");
            assertThat(c.bodyText()).isEqualTo("From: sender@example.com\r\nTo: reports@contoso.com\r\nSubject: top\r\n\r\n");
            assertThat(c.command("TOP 1 3")).startsWith("+OK");
            assertThat(c.bodyText()).endsWith("Subject: top\r\n\r\nline 1\r\nline 2\r\n.dot-led line 3\r\n");
            assertThat(c.command("NOOP")).startsWith("+OK");
            await().atMost(Duration.ofSeconds(15)).until(() -> graph.cancelled.get() == 2);
            assertThat(graph.published.get()).isLessThan(1_000_000);
        }
    }

    @Test
    void aTwentyMegabyteRetrIsDownloadedOnlyAsFastAsTheClientReads() throws Exception {
        int size = 20 * 1000 * 1000;
        byte[] body = new byte[size];
        Arrays.fill(body, (byte) 'x');
        for (int i = 998; i < size; i += 1000) {
            body[i] = '\r';
            body[i + 1] = '\n';
        }
        graph.add("inbox", body);
        try (Pop3Client c = login()) {
            c.send("RETR 1");
            await().atMost(Duration.ofSeconds(10)).until(() -> graph.published.get() > 1024 * 1024);
            // the client reads nothing: the socket buffers and the channel's high water mark fill, then Graph waits
            await().during(Duration.ofMillis(800)).atMost(Duration.ofSeconds(5))
                    .until(() -> graph.published.get() < 12 * 1024 * 1024);
            assertThat(c.line()).startsWith("+OK");
            assertThat(c.body()).isEqualTo(body);
            assertThat(c.command("QUIT")).startsWith("+OK");
        }
    }

    @Test
    void aMessageRemovedAfterTheListingIsAPlainErrAndTheSessionGoesOn() throws Exception {
        String gone = graph.add("inbox", message("gone", 2));
        graph.add("inbox", message("stays", 2));
        try (Pop3Client c = login()) {
            graph.removeNow(gone);
            assertThat(c.command("RETR 1")).isEqualTo("-ERR Message 1 no longer exists (removed by another client)");
            assertThat(c.command("TOP 1 0")).isEqualTo("-ERR Message 1 no longer exists (removed by another client)");
            assertThat(c.command("RETR 2")).startsWith("+OK");
            assertThat(c.bodyText()).isEqualTo(message("stays", 2));
            assertThat(c.command("QUIT")).startsWith("+OK");
        }
    }

    @Test
    void aThrottledDownloadIsATemporaryErrorAndTheSessionGoesOn() throws Exception {
        String id = graph.add("inbox", message("busy", 2));
        graph.failures.put("download " + id,
                () -> InMemoryGraph.failure(GraphException.Kind.THROTTLED, 429, "ApplicationThrottled"));
        try (Pop3Client c = login()) {
            assertThat(c.command("RETR 1")).startsWith("-ERR [SYS/TEMP] ");
            graph.failures.clear();
            assertThat(c.command("RETR 1")).startsWith("+OK");
            assertThat(c.bodyText()).isEqualTo(message("busy", 2));
        }
    }

    @Test
    void aDownloadThatFailsMidStreamClosesTheConnectionWithoutTheTerminator() throws Exception {
        graph.add("inbox", message("cut", 10_000));
        graph.chunkSize = 100;
        graph.failBodyAfter = 1000;
        try (Pop3Client c = login()) {
            assertThat(c.command("RETR 1")).startsWith("+OK");
            org.assertj.core.api.Assertions.assertThatThrownBy(c::body)
                    .hasMessageContaining("connection closed inside a multi-line response");
        }
    }

    @Test
    void onlyUnseenListsUnreadMessages() throws Exception {
        String read = graph.add("inbox", message("read", 1));
        graph.find(read).orElseThrow().read = true;
        graph.add("inbox", message("unread", 1));
        policy("inbox", true, "keep");
        try (Pop3Client c = login()) {
            assertThat(c.command("STAT")).startsWith("+OK 1 ");
            assertThat(c.command("RETR 1")).startsWith("+OK");
            assertThat(c.bodyText()).contains("Subject: unread");
            c.command("QUIT");
        }
        assertThat(graph.calls).contains("list inbox unread=true from=0");
    }

    /** Two of three messages DELE'd, then QUIT under {@code onDelete}; the folders afterwards. */
    private Map<String, List<String>> deleteTwoAndQuit(String onDelete) throws Exception {
        policy("inbox", false, onDelete);
        try (Pop3Client c = login()) {
            assertThat(c.command("DELE 1")).startsWith("+OK");
            assertThat(c.command("DELE 3")).startsWith("+OK");
            assertThat(c.command("QUIT")).startsWith("+OK");
            assertThat(c.closedByServer()).isTrue();
        }
        return graph.snapshot();
    }

    private List<String> three() {
        return List.of(graph.add("inbox", message("1", 1)), graph.add("inbox", message("2", 1)),
                graph.add("inbox", message("3", 1)));
    }

    @Test
    void expungeDeletesTheMarkedMessagesAtQuit() throws Exception {
        List<String> ids = three();
        Map<String, List<String>> after = deleteTwoAndQuit("expunge");
        assertThat(after.get("inbox")).containsExactly(ids.get(1));
        assertThat(graph.calls).contains("delete " + ids.get(0), "delete " + ids.get(2));
        assertThat(graph.calls).noneMatch(s -> s.startsWith("move ") || s.startsWith("markRead "));
    }

    @Test
    void seenMarksTheMarkedMessagesReadAtQuit() throws Exception {
        List<String> ids = three();
        Map<String, List<String>> after = deleteTwoAndQuit("seen");
        assertThat(after.get("inbox")).containsExactlyElementsOf(ids);
        assertThat(graph.find(ids.get(0)).orElseThrow().read).isTrue();
        assertThat(graph.find(ids.get(1)).orElseThrow().read).isFalse();
        assertThat(graph.find(ids.get(2)).orElseThrow().read).isTrue();
    }

    @Test
    void moveToTrashMovesToDeletedItemsAtQuit() throws Exception {
        List<String> ids = three();
        Map<String, List<String>> after = deleteTwoAndQuit("move:\\Trash");
        assertThat(after.get("inbox")).containsExactly(ids.get(1));
        assertThat(after.get("deleteditems")).containsExactlyInAnyOrder(ids.get(0), ids.get(2));
    }

    @Test
    void moveToANamedFolderMovesThereAtQuit() throws Exception {
        List<String> ids = three();
        Map<String, List<String>> after = deleteTwoAndQuit("move:archive");
        assertThat(after.get("archive")).containsExactlyInAnyOrder(ids.get(0), ids.get(2));
    }

    @Test
    void keepChangesNothingAtQuit() throws Exception {
        List<String> ids = three();
        assertThat(deleteTwoAndQuit("keep").get("inbox")).containsExactlyElementsOf(ids);
        assertThat(graph.calls).noneMatch(s -> s.startsWith("move ") || s.startsWith("delete ") || s.startsWith("markRead "));
    }

    @Test
    void rsetOrADroppedConnectionAppliesNothing() throws Exception {
        List<String> ids = three();
        policy("inbox", false, "expunge");
        try (Pop3Client c = login()) {
            c.command("DELE 1");
            assertThat(c.command("RSET")).startsWith("+OK maildrop has 3 messages");
            assertThat(c.command("QUIT")).startsWith("+OK");
        }
        try (Pop3Client c = login()) {
            assertThat(c.command("DELE 2")).startsWith("+OK");
        }
        // the dropped session is over once a new one can log in and see everything
        try (Pop3Client c = login()) {
            assertThat(c.command("STAT")).startsWith("+OK 3 ");
        }
        assertThat(graph.snapshot().get("inbox")).containsExactlyElementsOf(ids);
        assertThat(graph.calls).noneMatch(s -> s.startsWith("delete "));
    }

    @Test
    void aQuitThatCouldNotApplyEverythingSaysSo() throws Exception {
        List<String> ids = three();
        graph.failures.put("delete " + ids.get(0),
                () -> InMemoryGraph.failure(GraphException.Kind.THROTTLED, 429, "ApplicationThrottled"));
        policy("inbox", false, "expunge");
        try (Pop3Client c = login()) {
            c.command("DELE 1");
            c.command("DELE 3");
            assertThat(c.command("QUIT")).startsWith("-ERR [SYS/TEMP] Some deleted messages not removed");
        }
        assertThat(graph.snapshot().get("inbox")).containsExactly(ids.get(0), ids.get(1));
    }

    @Test
    void aMessageAlreadyGoneAtQuitCountsAsApplied() throws Exception {
        List<String> ids = three();
        policy("inbox", false, "move:\\Trash");
        try (Pop3Client c = login()) {
            c.command("DELE 1");
            graph.removeNow(ids.get(0));
            assertThat(c.command("QUIT")).startsWith("+OK");
        }
    }

    @Test
    void aMissingMoveDestinationIsNotClaimedAsSuccess() throws Exception {
        three();
        policy("inbox", false, "move:Old mail");
        try (Pop3Client c = login()) {
            c.command("DELE 1");
            assertThat(c.command("QUIT")).startsWith("-ERR [SYS/TEMP] Some deleted messages not removed");
        }
    }

    @Test
    void aMissingFolderOrAThrottledListingRefusesTheLogin() throws Exception {
        policy("nosuchfolder", false, "keep");
        try (Pop3Client c = new Pop3Client(proxy.port())) {
            c.line();
            c.command("USER alice");
            assertThat(c.command("PASS secret")).startsWith("-ERR [SYS/PERM] Folder nosuchfolder");
        }
        policy("inbox", false, "keep");
        graph.failures.put("list inbox", () -> InMemoryGraph.failure(GraphException.Kind.THROTTLED, 429, "ApplicationThrottled"));
        try (Pop3Client c = new Pop3Client(proxy.port())) {
            c.line();
            c.command("USER alice");
            assertThat(c.command("PASS secret")).startsWith("-ERR [SYS/TEMP]");
        }
    }

    @Test
    void anUnknownSpecialUseIsRefusedAtLogin() throws Exception {
        policy("inbox", false, "move:\\Flagged");
        try (Pop3Client c = new Pop3Client(proxy.port())) {
            c.line();
            c.command("USER alice");
            assertThat(c.command("PASS secret")).startsWith("-ERR [SYS/PERM]");
        }
    }

    @Test
    void pythonPoplibReadsAndDeletesThroughGraph(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        // Python's poplib is a real client nobody here wrote (as in PassThroughGreenMailTest)
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isExecutable(java.nio.file.Path.of("/usr/bin/python3")));
        byte[] m = Pop3OverImapTest.message("one", 5000, true);
        String id = graph.add("inbox", m);
        policy("inbox", false, "move:\\Trash");
        java.nio.file.Path script = dir.resolve("client.py");
        java.nio.file.Files.writeString(script, PassThroughGreenMailTest.POPLIB);
        Process p = new ProcessBuilder("/usr/bin/python3", script.toString(), Integer.toString(proxy.port()))
                .redirectErrorStream(true).start();
        assertThat(p.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(out).isZero();
        String text = new String(m, StandardCharsets.US_ASCII);
        assertThat(out.lines().toList()).containsExactly(
                "+OK mailproxy POP3 ready",
                "['AUTH-RESP-CODE', 'IMPLEMENTATION', 'PIPELINING', 'RESP-CODES', 'SASL', 'TOP', 'UIDL', 'USER']",
                "+OK", "1", text.split("\r\n").length + " " + (text.split("\\.dot-led", -1).length - 1),
                "[b'line 1 the quick brown fox jumps over the lazy dog 0123456789', "
                        + "b'line 2 the quick brown fox jumps over the lazy dog 0123456789']",
                "['1']", "+OK", "+OK");
        assertThat(graph.folderOf(id)).contains("deleteditems");
    }
}
