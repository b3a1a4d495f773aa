package io.mailproxy.interop;

import static io.mailproxy.interop.ClientFiles.files;
import static io.mailproxy.interop.ClientFiles.numberingMda;
import static io.mailproxy.interop.ClientFiles.privateFile;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mailproxy.testkit.graph.FakeGraph;
import io.mailproxy.testkit.graph.GraphMailbox;
import io.mailproxy.testkit.graph.GraphMessage;
import io.mailproxy.testkit.graph.GraphRequest;
import io.mailproxy.testkit.graph.SentMessage;
import io.mailproxy.testkit.graph.StoredAttachment;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Microsoft Graph as the upstream (issue 16), with real clients: the proxy's upstream {@code graph} is testkit's
 * {@link FakeGraph} ({@code send-with = graph}, its CA as {@code ca-file}), and the accounts log in with app-only
 * tokens from the fake identity platform ({@link GraphUpstream}). What swaks and smtplib send is compared with what
 * Graph was asked to send ({@link GraphMailbox#sent()}); what fetchmail, poplib and getmail6 fetch over POP3 from a
 * Graph folder is compared byte for byte with the MIME the fake serves.
 */
@ExtendWith(Interop.Extension.class)
class GraphIT {

    static final Duration LIMIT = Duration.ofSeconds(120);

    Interop env;
    Proxy proxy;
    FakeGraph fake;

    @BeforeEach
    void setUp(Interop env) throws IOException {
        this.env = env;
        this.proxy = env.proxy();
        this.fake = env.graph.fake;
    }

    // ------------------------------------------------------------------------------------------- SMTP

    /** Envelope = To: sendMail with the MIME as the client sent it, to exactly the envelope's recipients. */
    @Test
    void swaksPlainMessageGoesOutWithSendMailToTheEnvelope() throws IOException {
        String rcpt = "graph-plain@elsewhere.test";
        byte[] msg = Messages.message(GraphUpstream.SEND, rcpt, "graph swaks plain", 20 * 1024, 161);
        Proc.Result r = swaks(GraphUpstream.SEND_CLIENT, List.of(rcpt), "--data", "@" + swaksData("plain", msg));
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).contains("<-  250");
        SentMessage sent = sentOnce("graph swaks plain");
        assertThat(sent.viaDraft()).as("sendMail, no draft").isFalse();
        assertThat(sent.recipients()).containsExactly(rcpt);
        Exact.assertSameBytes("MIME given to sendMail", sent.mime(), msg);
    }

    /** An envelope recipient missing from To/Cc (a Bcc) is sent to through a draft, which does not stay behind. */
    @Test
    void swaksBccRecipientGoesThroughADraftAndNoDraftIsLeft() throws IOException {
        String to = "graph-to@elsewhere.test";
        String bcc = "graph-bcc@elsewhere.test";
        Proc.Result r = swaks(GraphUpstream.SEND_CLIENT, List.of(to, bcc), "--header", "To: <" + to + ">",
                "--header", "Subject: graph swaks bcc", "--body", "to one, bcc the other");
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).contains("<-  250").contains(" To: <" + to + ">").doesNotContain("To: " + bcc);
        SentMessage sent = sentOnce("graph swaks bcc");
        assertThat(sent.viaDraft()).as("sent as a draft with a Bcc recipient").isTrue();
        assertThat(sent.to()).containsExactly(to);
        assertThat(sent.cc()).isEmpty();
        assertThat(sent.bcc()).containsExactly(bcc);
        assertThat(sent.mimeText()).contains("to one, bcc the other");
        assertThat(env.graph.mailbox(GraphUpstream.SEND).drafts()).as("no draft left").isEmpty();
    }

    /** A message over one Graph request: a draft, the attachment through an upload session, then send. */
    @Test
    void swaksSixMegabyteAttachmentGoesThroughAnUploadSession() throws IOException {
        byte[] attachment = new byte[6 * 1024 * 1024];
        new Random(163).nextBytes(attachment);
        Path file = Files.write(env.scratch.resolve("graph-attachment.bin"), attachment);
        String rcpt = "graph-big@elsewhere.test";
        int uploadsBefore = uploadSessions();
        Proc.Result r = swaks(GraphUpstream.SEND_CLIENT, List.of(rcpt), "--header", "Subject: graph swaks 6 MB",
                "--body", "six megabytes attached", "--attach", "@" + file, "--suppress-data");
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).contains("<-  250");
        SentMessage sent = sentOnce("graph swaks 6 MB");
        assertThat(sent.viaDraft()).isTrue();
        assertThat(sent.recipients()).containsExactly(rcpt);
        List<StoredAttachment> big = sent.attachments().stream().filter(a -> a.size() == attachment.length).toList();
        assertThat(big).as("the 6 MB attachment, among " + sent.attachments()).hasSize(1);
        assertThat(big.get(0).uploadSession()).as("uploaded through an upload session").isTrue();
        assertThat(big.get(0).sha256Hex()).as("SHA-256 at Graph").isEqualTo(sha256(attachment));
        assertThat(uploadSessions()).isEqualTo(uploadsBefore + 1);
        assertThat(env.graph.mailbox(GraphUpstream.SEND).drafts()).as("no draft left").isEmpty();
    }

    /** The app's access policy leaves the mailbox out: Graph's 403 is a configuration fault, 454 4.7.0. */
    @Test
    void swaksGets454WhenGraphDeniesTheMailbox() throws IOException {
        long mark = env.logs.mark();
        String rcpt = "graph-denied-rcpt@elsewhere.test";
        byte[] msg = Messages.small(GraphUpstream.DENIED, rcpt, "graph swaks denied");
        Proc.Result r = swaks(GraphUpstream.DENIED_CLIENT, List.of(rcpt), "--data", "@" + swaksData("denied", msg));
        assertThat(r.exit()).as(r.describe()).isNotZero();
        assertThat(r.out()).as(r.describe()).containsPattern("<\\*\\* +454 4\\.7\\.0");
        assertThat(env.graph.mailbox(GraphUpstream.DENIED).sent()).isEmpty();
        assertThat(fake.requests()).as("Graph answered 403")
                .anyMatch(q -> q.mailbox().equals(GraphUpstream.DENIED) && q.status() == 403);
        // the administrator's log line names Graph's answer and what to fix, with no secret in it
        env.assertLogged(mark, "Graph send-mail for " + GraphUpstream.DENIED + ": 403 ErrorAccessDenied .*Mail\\.Send");
    }

    /** smtplib with queue = true: 250 once spooled, while Graph holds every request; delivered after. */
    @Test
    void smtplibQueuedMessageIsAnsweredAtOnceThenSentThroughGraph() throws IOException {
        String rcpt = "graph-queued@elsewhere.test";
        byte[] msg = Messages.message(GraphUpstream.SEND, rcpt, "graph smtplib queued", 30 * 1024, 164);
        FakeGraph.Hold hold = fake.hold();
        Proc.Result r;
        try {
            r = Python.run(env.scratch, PythonClientsIT.SMTP_SEND, Proxy.HOST, "" + proxy.smtpPort(),
                    GraphUpstream.QUEUE_CLIENT, Proxy.secret(GraphUpstream.QUEUE_CLIENT), GraphUpstream.SEND,
                    file("queued", msg).toString(), rcpt);
            assertThat(r.exit()).as(r.describe()).isZero();
            assertThat(r.out()).as(r.describe()).contains("refused {}").contains("quit 221");
            assertThat(sentWith("graph smtplib queued")).as("250 came before Graph sent anything").isEmpty();
        } finally {
            hold.release();
        }
        await("delivered through Graph").atMost(Duration.ofSeconds(30))
                .until(() -> sentWith("graph smtplib queued").size() == 1);
        SentMessage sent = sentOnce("graph smtplib queued");
        assertThat(sent.recipients()).containsExactly(rcpt);
        Exact.assertSameBytes("MIME given to Graph", sent.mime(), msg);
    }

    // ------------------------------------------------------------------------------------------- POP3

    /** fetchmail over POP3 from Graph's inbox: the MDA gets the MIME Graph serves, byte for byte. */
    @Test
    void fetchmailDeliversTheMessagesGraphServesByteForByte() throws IOException {
        GraphMailbox mb = env.graph.mailbox(GraphUpstream.FETCHMAIL);
        byte[] a = Messages.message(GraphUpstream.FETCHMAIL, GraphUpstream.FETCHMAIL, "graph fm 1", 1024, 165);
        byte[] b = Messages.message(GraphUpstream.FETCHMAIL, GraphUpstream.FETCHMAIL, "graph fm 2", 100 * 1024, 166);
        mb.deliver(a);
        mb.deliver(b);
        String client = GraphUpstream.FETCHMAIL_CLIENT;
        String server = "poll 127.0.0.1 service " + proxy.pop3Port() + " protocol POP3 auth password\n"
                + "  user \"" + client + "\" there with password \"" + Proxy.secret(client) + "\" is root here\n"
                + FetchmailIT.PLAINTEXT;
        List<byte[]> delivered = fetchmail(server);
        assertThat(delivered).hasSize(2);
        Exact.assertSameBytes("first message", delivered.get(0), a);
        Exact.assertSameBytes("second message", delivered.get(1), b);
        assertThat(mb.messages("inbox")).as("keep: nothing deleted").hasSize(2);
    }

    static final String POPLIB_SESSION = """
            import poplib, sys, os, json
            host, port, user, pw, out, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
            def save(name, lines):
                with open(os.path.join(out, name), "wb") as f:
                    f.write(b"".join(l + b"\\r\\n" for l in lines))
            p = poplib.POP3(host, port)
            p.user(user)
            p.pass_(pw)
            count, size = p.stat()
            print("stat", count, size)
            resp, uidls, _ = p.uidl()
            print("uidl", json.dumps([u.decode() for u in uidls]))
            if mode == "read":
                for i in range(1, count + 1):
                    save("%d.eml" % i, p.retr(i)[1])
                    save("%d.top0" % i, p.top(i, 0)[1])
                    save("%d.top3" % i, p.top(i, 3)[1])
            else:
                print("dele", p.dele(1).decode())
            print("quit", p.quit().decode())
            """;

    /**
     * poplib over POP3 from Graph's inbox: UIDLs of at most 70 characters that are the same in the next session;
     * RETR byte for byte (lines that start with a dot are dot-stuffed on the wire, poplib removes it); TOP n 0 and
     * TOP n 3; DELE and QUIT with {@code on-delete = move:\\Trash} leave the message in Graph's deleteditems.
     */
    @Test
    void poplibReadsUidlRetrTopThenDeleteMovesToDeletedItems() throws IOException {
        GraphMailbox mb = env.graph.mailbox(GraphUpstream.POPLIB);
        byte[] a = Messages.message(GraphUpstream.POPLIB, GraphUpstream.POPLIB, "graph poplib a", 2000, 167);
        byte[] b = Messages.message(GraphUpstream.POPLIB, GraphUpstream.POPLIB, "graph poplib b", 80 * 1024, 168);
        GraphMessage ga = mb.deliver(a);
        GraphMessage gb = mb.deliver(b);
        Map<String, byte[]> bySubject = Map.of("graph poplib a", a, "graph poplib b", b);
        Map<String, String> ids = Map.of("graph poplib a", ga.id(), "graph poplib b", gb.id());
        String client = GraphUpstream.POPLIB_CLIENT;

        Path out = Files.createTempDirectory(env.scratch, "graph-poplib");
        Proc.Result read = Python.run(env.scratch, POPLIB_SESSION, Proxy.HOST, "" + proxy.pop3Port(), client,
                Proxy.secret(client), out.toString(), "read");
        assertThat(read.exit()).as(read.describe()).isZero();
        assertThat(read.out()).contains("stat 2 ");
        List<String> uidls = uidls(read);
        assertThat(uidls).hasSize(2).doesNotHaveDuplicates();
        for (String u : uidls) {
            // RFC 1939 UIDL: "1 to 70 characters ... in the range 0x21 to 0x7E"
            assertThat(u).as("unique-id listing").matches("[1-2] [\\x21-\\x7e]{1,70}");
        }
        String first = null;
        for (int i = 1; i <= 2; i++) {
            byte[] retr = Files.readAllBytes(out.resolve(i + ".eml"));
            String subject = Maildir.subject(retr);
            assertThat(bySubject).as("message %d is one delivered", i).containsKey(subject);
            byte[] expected = bySubject.get(subject);
            Exact.assertSameBytes("RETR " + i, retr, expected);
            int bodyAt = Maildir.headerEnd(expected) + 2; // past the empty line
            Exact.assertSameBytes("TOP " + i + " 0", Files.readAllBytes(out.resolve(i + ".top0")),
                    Arrays.copyOf(expected, bodyAt));
            Exact.assertSameBytes("TOP " + i + " 3", Files.readAllBytes(out.resolve(i + ".top3")),
                    Arrays.copyOf(expected, lineEnd(expected, bodyAt, 3)));
            if (i == 1) {
                first = subject;
            }
        }

        Proc.Result dele = Python.run(env.scratch, POPLIB_SESSION, Proxy.HOST, "" + proxy.pop3Port(), client,
                Proxy.secret(client), out.toString(), "dele");
        assertThat(dele.exit()).as(dele.describe()).isZero();
        assertThat(uidls(dele)).as("UIDLs stable across sessions").isEqualTo(uidls);
        assertThat(dele.out()).contains("dele +OK").contains("quit +OK");
        String deleted = ids.get(first);
        assertThat(mb.messages("deleteditems")).extracting(GraphMessage::id).as("moved to Deleted Items")
                .containsExactly(deleted);
        assertThat(mb.messages("inbox")).extracting(GraphMessage::id).as("the other one stays")
                .containsExactly(ga.id().equals(deleted) ? gb.id() : ga.id());
        assertThat(mb.recoverableItems()).as("moved, not soft-deleted").isEmpty();
    }

    /** getmail6 over POP3 from Graph's inbox, deleting what it fetched (on-delete = expunge: Graph's soft delete). */
    @Test
    void getmailDeliversExactlyAndDeletesWhatItFetched() throws IOException {
        GraphMailbox mb = env.graph.mailbox(GraphUpstream.GETMAIL);
        byte[] a = Messages.message(GraphUpstream.GETMAIL, GraphUpstream.GETMAIL, "graph getmail a", 1500, 169);
        byte[] b = Messages.message(GraphUpstream.GETMAIL, GraphUpstream.GETMAIL, "graph getmail b", 150 * 1024, 170);
        GraphMessage ga = mb.deliver(a);
        GraphMessage gb = mb.deliver(b, true, "inbox");
        String client = GraphUpstream.GETMAIL_CLIENT;
        Path home = Files.createTempDirectory(env.scratch, "graph-getmail");
        Path out = Files.createDirectories(home.resolve("out"));
        String rc = "[retriever]\ntype = SimplePOP3Retriever\nserver = " + Proxy.HOST + "\nport = " + proxy.pop3Port()
                + "\nusername = " + client + "\npassword = " + Proxy.secret(client) + "\ntimeout = 30\n\n"
                + "[destination]\ntype = MDA_external\npath = " + numberingMda(home, out) + "\nunixfrom = false\n"
                // the suite runs as root in CI; getmail refuses to run commands as root unless told
                + "allow_root_commands = true\n\n"
                + "[options]\nverbose = 2\nread_all = true\ndelete = true\nreceived = false\ndelivered_to = false\n"
                + "message_log_syslog = false\n";
        privateFile(home.resolve("getmailrc"), rc);
        Proc.Result r = Proc.run(LIMIT, null, Map.of("HOME", home.toString()), home,
                List.of("getmail", "--getmaildir", home.toString(), "--rcfile", "getmailrc"));
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).as(r.describe()).contains("2 messages");
        List<byte[]> delivered = files(out);
        assertThat(delivered).hasSize(2);
        // getmail hands the MDA the message with LF line ends and a Return-Path header of its own in front
        Exact.assertSameBytes("a as delivered", delivered.get(0), returnPath(Maildir.lf(a)));
        Exact.assertSameBytes("b as delivered", delivered.get(1), returnPath(Maildir.lf(b)));
        assertThat(mb.messages("inbox")).as("getmail deleted what it fetched").isEmpty();
        assertThat(mb.recoverableItems()).extracting(GraphMessage::id).containsExactlyInAnyOrder(ga.id(), gb.id());
    }

    // ------------------------------------------------------------------------------------------- helpers

    private Path file(String name, byte[] msg) throws IOException {
        return Files.write(env.scratch.resolve("graph-" + name + "-" + System.nanoTime() + ".eml"), msg);
    }

    /** swaks ends DATA with CRLF . CRLF after the data it was given: hand it the message without its last CRLF. */
    private Path swaksData(String name, byte[] msg) throws IOException {
        return file(name, Arrays.copyOf(msg, msg.length - 2));
    }

    /** swaks with AUTH PLAIN as {@code client}, from its account's mailbox, to {@code rcpts} (the envelope). */
    private Proc.Result swaks(String client, List<String> rcpts, String... more) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("swaks", "--server", Proxy.HOST, "--port", "" + proxy.smtpPort(),
                "--auth", "PLAIN", "--auth-user", client, "--auth-password", Proxy.secret(client),
                "--from", GraphUpstream.clients().get(client)[0], "--to", String.join(",", rcpts), "--timeout", "60"));
        cmd.addAll(List.of(more));
        return Proc.run(LIMIT, cmd);
    }

    private List<SentMessage> sentWith(String subject) {
        return env.graph.mailbox(GraphUpstream.SEND).sent().stream()
                .filter(s -> s.mimeText().contains("\r\nSubject: " + subject + "\r\n")
                        || s.mimeText().startsWith("Subject: " + subject + "\r\n"))
                .toList();
    }

    private SentMessage sentOnce(String subject) {
        List<SentMessage> s = sentWith(subject);
        assertThat(s).as("sent through Graph once: " + subject).hasSize(1);
        return s.get(0);
    }

    private int uploadSessions() {
        return (int) fake.requests().stream().filter(q -> q.method().equals("POST")
                && q.path().endsWith("/createUploadSession") && q.status() == 201).count();
    }

    private static List<String> uidls(Proc.Result r) {
        Matcher m = Pattern.compile("(?m)^uidl (\\[.*\\])$").matcher(r.out());
        assertThat(m.find()).as(r.describe()).isTrue();
        List<String> out = new ArrayList<>();
        Matcher each = Pattern.compile("\"([^\"]*)\"").matcher(m.group(1));
        while (each.find()) {
            out.add(each.group(1));
        }
        return out;
    }

    /** The offset just after the {@code n}-th line (CRLF) that starts at {@code from}. */
    private static int lineEnd(byte[] msg, int from, int n) {
        int at = from;
        for (int i = 0; i < n; i++) {
            while (msg[at] != '\n') {
                at++;
            }
            at++;
        }
        return at;
    }

    private static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Runs fetchmail once with {@code server} (a poll entry, keep) and returns the delivered messages in order. */
    private List<byte[]> fetchmail(String server) throws IOException {
        Path home = Files.createTempDirectory(env.scratch, "graph-fetchmail");
        Path out = Files.createDirectories(home.resolve("out"));
        String rc = "set no bouncemail\nset no syslog\nset invisible\n" + server
                + "  keep fetchall no rewrite no stripcr no mimedecode\n  mda \"" + numberingMda(home, out) + "\"\n";
        Path rcFile = privateFile(home.resolve("fetchmailrc"), rc);
        Proc.Result r = Proc.run(LIMIT, null, Map.of("HOME", home.toString(), "FETCHMAILHOME", home.toString()), home,
                List.of("fetchmail", "-v", "-f", rcFile.toString(), "-i", home.resolve("ids").toString(),
                        "--pidfile", home.resolve("pid").toString()));
        assertThat(r.exit()).as(r.describe()).isZero();
        return files(out);
    }

    private static byte[] returnPath(byte[] message) {
        byte[] head = "Return-Path: <unknown>\n".getBytes(StandardCharsets.US_ASCII);
        byte[] out = Arrays.copyOf(head, head.length + message.length);
        System.arraycopy(message, 0, out, head.length, message.length);
        return out;
    }
}
