package io.mailproxy.interop;

import static io.mailproxy.interop.ClientFiles.files;
import static io.mailproxy.interop.ClientFiles.numberingMda;
import static io.mailproxy.interop.ClientFiles.privateFile;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * More real clients from Debian 12 through the proxy to Dovecot, for the mailbox clients@: isync (mbsync) and
 * offlineimap syncing INBOX both ways with a local Maildir, getmail6 (POP3 and IMAP, deleting what it fetched, and
 * IDLE), mpop (POP3, keeping messages and fetching only new UIDLs), msmtp (SMTP AUTH PLAIN and LOGIN) and s-nail
 * (SMTP, and IMAP commands that change the mailbox upstream). Also real clients against the proxy's own logic: POP3
 * served from IMAP ({@link Proxy#POP3IMAP_CLIENTS}), a folder allow-list ({@link Proxy#FOLDERS_CLIENTS}, CATENATE
 * included) and read-only access ({@link Proxy#READ_ONLY_CLIENTS}).
 *
 * <p>Each client changes what it stores in a way of its own (a Maildir holds LF line ends, mbsync marks each message
 * it propagates with an X-TUID header, getmail adds Return-Path); every check states that change exactly and then
 * compares all other bytes, and checks the mailbox upstream (straight to Dovecot) afterwards. Every client runs
 * with a time limit ({@link Proc}), on loopback only.
 */
@ExtendWith(Interop.Extension.class)
class MoreClientsIT {

    static final String USER = "clients@" + Interop.DOMAIN;
    static final String CLIENT = Proxy.client(USER);
    /** The value mbsync 1.4 puts in X-TUID: 12 characters of its base64 alphabet. */
    static final String TUID = "[A-Za-z0-9+/]{12}";
    static final Duration LIMIT = Duration.ofSeconds(120);

    Interop env;
    Proxy proxy;

    @BeforeEach
    void setUp(Interop env) throws IOException {
        this.env = env;
        this.proxy = env.proxy();
        env.clear(USER);
    }

    // ---------------------------------------------------------------------------------------------- isync (mbsync)

    @Test
    void mbsyncSyncsInboxBothWaysThroughTheProxy() throws IOException {
        byte[] a = msg("mbsync a", 1024, 51);
        byte[] b = msg("mbsync b", 100 * 1024, 52);
        byte[] c = msg("mbsync c", 1024 * 1024, 53);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            m.append("INBOX", a);
            m.append("INBOX", b, "\\Seen");
            m.append("INBOX", c, "\\Flagged");
        }
        Path home = Files.createTempDirectory(env.scratch, "mbsync");
        Path inbox = home.resolve("mail").resolve("INBOX");
        Path rc = mbsyncConfig(home, Proxy.HOST, proxy.imapPort(), "SSLType None\nAuthMechs LOGIN\n"
                + "User " + CLIENT + "\nPass " + Proxy.secret(CLIENT) + "\n");

        mbsync(home, rc, "first sync");
        List<Maildir.Msg> local = Maildir.read(inbox);
        assertThat(local).extracting(Maildir.Msg::subject).containsExactly("mbsync a", "mbsync b", "mbsync c");
        assertPulled(local.get(0), a, "");
        assertPulled(local.get(1), b, "S");
        assertPulled(local.get(2), c, "F");

        // the user reads and flags a, deletes b, files a new message d; meanwhile e arrives and c is answered upstream
        Maildir.setFlags(local.get(0), "FS");
        Maildir.setFlags(local.get(1), "ST");
        byte[] d = Maildir.lf(msg("mbsync d", 50 * 1024, 54));
        Maildir.deliver(inbox, "local-d.1:2,", d);
        byte[] e = msg("mbsync e", 3000, 55);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            m.append("INBOX", e);
            m.ok("UID STORE " + uidOf(m, "mbsync c") + " +FLAGS (\\Answered)");
        }

        mbsync(home, rc, "second sync");
        try (UpstreamMailbox m = env.mailbox(USER)) {
            Map<String, UpstreamMailbox.Stored> up = bySubject(m.fetchAll("INBOX"));
            assertThat(up.keySet()).as("b was expunged upstream (Expunge Both)")
                    .containsExactlyInAnyOrder("mbsync a", "mbsync c", "mbsync d", "mbsync e");
            assertFlags(up.get("mbsync a").flags(), "\\Flagged", "\\Seen");
            assertFlags(up.get("mbsync c").flags(), "\\Answered", "\\Flagged");
            assertFlags(up.get("mbsync d").flags());
            Exact.assertSameBytes("a upstream", up.get("mbsync a").bytes(), a);
            Exact.assertSameBytes("c upstream", up.get("mbsync c").bytes(), c);
            Exact.assertSameBytes("d as uploaded by mbsync (CRLF, its X-TUID removed)",
                    Maildir.withoutLastHeader(up.get("mbsync d").bytes(), "X-TUID", TUID), Maildir.crlf(d));
        }
        local = Maildir.read(inbox);
        assertThat(local).extracting(Maildir.Msg::subject)
                .containsExactly("mbsync a", "mbsync c", "mbsync d", "mbsync e");
        assertThat(sorted(local.get(1).flags())).isEqualTo("FR");
        assertPulled(local.get(3), e, "");
        Exact.assertSameBytes("d kept locally", local.get(2).bytes(), d);

        // nothing changed on either side: a third run changes nothing
        Map<Long, String> before;
        try (UpstreamMailbox m = env.mailbox(USER)) {
            before = m.flags("INBOX");
        }
        mbsync(home, rc, "third sync");
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.flags("INBOX")).isEqualTo(before);
        }
        assertThat(Maildir.read(inbox)).extracting(Maildir.Msg::subject).hasSize(4);
    }

    /** AUTHENTICATE PLAIN with SASL-IR, and mbsync's pipelining (many commands in flight) over a fuller mailbox. */
    @Test
    void mbsyncWithAuthenticatePlainPipelinesAFullMailbox() throws IOException {
        List<byte[]> stored = new ArrayList<>();
        try (UpstreamMailbox m = env.mailbox(USER)) {
            for (int i = 0; i < 30; i++) {
                byte[] msg = msg(String.format("mbsync bulk %02d", i), i % 5 == 0 ? 200 * 1024 : 2000 + 500 * i, 100 + i);
                m.append("INBOX", msg, i % 3 == 0 ? "\\Seen" : "");
                stored.add(msg);
            }
        }
        Path home = Files.createTempDirectory(env.scratch, "mbsync-plain");
        Path inbox = home.resolve("mail").resolve("INBOX");
        Path rc = mbsyncConfig(home, Proxy.HOST, proxy.imapPort(), "SSLType None\nAuthMechs PLAIN\n"
                + "User " + CLIENT + "\nPass " + Proxy.secret(CLIENT) + "\nPipelineDepth 50\n");
        Proc.Result r = mbsync(home, rc, "bulk sync");
        assertThat(r.out() + r.stderr()).as(r.describe()).contains(">>> 1 AUTHENTICATE PLAIN");
        List<Maildir.Msg> local = Maildir.read(inbox);
        assertThat(local).hasSize(30);
        for (int i = 0; i < 30; i++) {
            assertPulled(local.get(i), stored.get(i), i % 3 == 0 ? "S" : "");
        }
        // mark every message seen and trash every fourth: 30 pipelined STOREs, then an expunge
        for (int i = 0; i < 30; i++) {
            Maildir.setFlags(local.get(i), i % 4 == 0 ? "ST" : "S");
        }
        mbsync(home, rc, "bulk flag sync");
        try (UpstreamMailbox m = env.mailbox(USER)) {
            Map<String, UpstreamMailbox.Stored> up = bySubject(m.fetchAll("INBOX"));
            assertThat(up).hasSize(30 - 8);
            for (int i = 0; i < 30; i++) {
                String subject = String.format("mbsync bulk %02d", i);
                if (i % 4 == 0) {
                    assertThat(up).as(subject + " expunged").doesNotContainKey(subject);
                } else {
                    assertFlags(up.get(subject).flags(), "\\Seen");
                    Exact.assertSameBytes(subject, up.get(subject).bytes(), stored.get(i));
                }
            }
        }
    }

    /** What mbsync itself does to the bytes (LF, one X-TUID line), shown straight against Dovecot over TLS. */
    @Test
    void mbsyncDirectToDovecotMakesTheSameChangesToTheBytes() throws IOException {
        byte[] a = msg("mbsync direct", 5000, 56);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            m.append("INBOX", a, "\\Seen");
        }
        Path home = Files.createTempDirectory(env.scratch, "mbsync-direct");
        // Dovecot listens on 127.0.0.1 too, and its certificate names localhost (mbsync does not match IP addresses)
        Path rc = mbsyncConfig(home, "localhost", env.dovecot.imapsPort(), "SSLType IMAPS\n"
                + "CertificateFile " + env.dovecot.caFile() + "\nAuthMechs LOGIN\n"
                + "User " + USER + "\nPass " + env.dovecot.password(USER) + "\n");
        mbsync(home, rc, "direct sync");
        List<Maildir.Msg> local = Maildir.read(home.resolve("mail").resolve("INBOX"));
        assertThat(local).hasSize(1);
        assertPulled(local.get(0), a, "S");
    }

    private Path mbsyncConfig(Path home, String host, int port, String account) throws IOException {
        Path mail = Files.createDirectories(home.resolve("mail"));
        String rc = "IMAPAccount up\nHost " + host + "\nPort " + port + "\nTimeout 30\n" + account + "\n"
                + "IMAPStore far\nAccount up\n\n"
                + "MaildirStore near\nPath " + mail + "/\nInbox " + mail.resolve("INBOX") + "\n\n"
                + "Channel inbox\nFar :far:INBOX\nNear :near:INBOX\nCreate Near\nSync All\nExpunge Both\n"
                + "SyncState *\n";
        return privateFile(home.resolve("mbsyncrc"), rc);
    }

    private Proc.Result mbsync(Path home, Path rc, String what) throws IOException {
        long t0 = System.nanoTime();
        // -Dn: the IMAP exchange (without message bodies) is printed, so a failure shows it
        Proc.Result r = Proc.run(LIMIT, null, Map.of("HOME", home.toString()), home,
                List.of("mbsync", "-Dn", "-c", rc.toString(), "inbox"));
        timing("mbsync " + what, t0);
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out() + r.stderr()).as(r.describe()).doesNotContainPattern("(?m)^(F: )?\\d+ (NO|BAD) ")
                .doesNotContain("IMAP error");
        return r;
    }

    /** A message mbsync pulled: the stored bytes with LF line ends and one X-TUID header line, and these flags. */
    private static void assertPulled(Maildir.Msg local, byte[] stored, String maildirFlags) {
        Exact.assertSameBytes(local.subject() + " in the Maildir (LF, without mbsync's X-TUID)",
                Maildir.withoutLastHeader(local.bytes(), "X-TUID", TUID), Maildir.lf(stored));
        assertThat(sorted(local.flags())).as(local.subject() + " flags").isEqualTo(maildirFlags);
    }

    // ---------------------------------------------------------------------------------------------- offlineimap

    @Test
    void offlineimapSyncsInboxBothWaysThroughTheProxy() throws IOException {
        byte[] a = msg("oi a", 2000, 61);
        byte[] b = msg("oi b", 300 * 1024, 62);
        byte[] c = msg("oi c", 4000, 63);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            m.append("INBOX", a);
            m.append("INBOX", b, "\\Seen");
            m.append("INBOX", c);
        }
        Path home = Files.createTempDirectory(env.scratch, "offlineimap");
        Path inbox = home.resolve("mail").resolve("INBOX");
        String rc = offlineimapConfig(home, CLIENT, "LOGIN", "lambda f: f == 'INBOX'");
        Path rcFile = privateFile(home.resolve("offlineimaprc"), rc);

        offlineimap(home, rcFile, "first sync");
        List<Maildir.Msg> local = Maildir.read(inbox);
        assertThat(local).extracting(Maildir.Msg::subject).containsExactly("oi a", "oi b", "oi c");
        Exact.assertSameBytes("a in the Maildir", local.get(0).bytes(), Maildir.lf(a));
        Exact.assertSameBytes("b in the Maildir", local.get(1).bytes(), Maildir.lf(b));
        Exact.assertSameBytes("c in the Maildir", local.get(2).bytes(), Maildir.lf(c));
        assertThat(sorted(local.get(1).flags())).isEqualTo("S");

        Maildir.setFlags(local.get(0), "FS");
        Files.delete(local.get(2).file());
        byte[] d = Maildir.lf(msg("oi d", 70 * 1024, 64));
        Maildir.deliver(inbox, "local-d:2,", d);

        offlineimap(home, rcFile, "second sync");
        try (UpstreamMailbox m = env.mailbox(USER)) {
            Map<String, UpstreamMailbox.Stored> up = bySubject(m.fetchAll("INBOX"));
            assertThat(up.keySet()).containsExactlyInAnyOrder("oi a", "oi b", "oi d");
            assertFlags(up.get("oi a").flags(), "\\Flagged", "\\Seen");
            assertFlags(up.get("oi b").flags(), "\\Seen");
            assertFlags(up.get("oi d").flags());
            Exact.assertSameBytes("a upstream", up.get("oi a").bytes(), a);
            Exact.assertSameBytes("d as uploaded by offlineimap (CRLF)", up.get("oi d").bytes(), Maildir.crlf(d));
        }
    }

    private String offlineimapConfig(Path home, String client, String mechanism, String folderFilter) {
        return "[general]\naccounts = proxy\nmetadata = " + home.resolve("meta") + "\nui = basic\n\n"
                + "[Account proxy]\nlocalrepository = local\nremoterepository = remote\n\n"
                + "[Repository local]\ntype = Maildir\nlocalfolders = " + home.resolve("mail") + "\n\n"
                + "[Repository remote]\ntype = IMAP\nremotehost = " + Proxy.HOST + "\nremoteport = " + proxy.imapPort()
                + "\nremoteuser = " + client + "\nremotepass = " + Proxy.secret(client)
                + "\nssl = no\nstarttls = no\nauth_mechanisms = " + mechanism + "\n"
                + (folderFilter == null ? "" : "folderfilter = " + folderFilter + "\n")
                + "timeout = 30\nmaxconnections = 2\n";
    }

    private Proc.Result offlineimap(Path home, Path rc, String what) throws IOException {
        long t0 = System.nanoTime();
        Proc.Result r = Proc.run(LIMIT, null, Map.of("HOME", home.toString()), home,
                List.of("offlineimap", "-c", rc.toString(), "-o", "-u", "basic", "-d", "imap"));
        timing("offlineimap " + what, t0);
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out() + r.stderr()).as(r.describe()).doesNotContain("ERROR").doesNotContain("Traceback");
        return r;
    }

    // ---------------------------------------------------------------------------------------------- getmail6

    /** POP3 passed through to Dovecot's POP3, IMAP, and POP3 served from the IMAP INBOX by the proxy. */
    @ParameterizedTest(name = "{0} as {1}")
    @CsvSource({"SimplePOP3Retriever, app-clients", "SimpleIMAPRetriever, app-clients",
                "SimplePOP3Retriever, " + Proxy.POP3IMAP_CLIENTS})
    void getmailDeliversExactlyAndDeletesWhatItFetched(String retriever, String client) throws IOException {
        assertThat(client).isIn(CLIENT, Proxy.POP3IMAP_CLIENTS);
        byte[] a = msg("getmail a " + retriever, 1500, 71);
        byte[] b = msg("getmail b " + retriever, 150 * 1024, 72);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            m.append("INBOX", a);
            m.append("INBOX", b, "\\Seen");
        }
        Path home = Files.createTempDirectory(env.scratch, "getmail");
        Path out = Files.createDirectories(home.resolve("out"));
        getmailConfig(home, retriever, client, numberingMda(home, out));
        long t0 = System.nanoTime();
        Proc.Result r = Proc.run(LIMIT, null, Map.of("HOME", home.toString()), home,
                List.of("getmail", "--getmaildir", home.toString(), "--rcfile", "getmailrc"));
        timing("getmail " + retriever + " as " + client, t0);
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).as(r.describe()).contains("2 messages");
        // getmail hands the MDA the message with LF line ends and a Return-Path header of its own in front
        List<byte[]> delivered = files(out);
        assertThat(delivered).hasSize(2);
        Exact.assertSameBytes("a as delivered", delivered.get(0), returnPath(Maildir.lf(a)));
        Exact.assertSameBytes("b as delivered", delivered.get(1), returnPath(Maildir.lf(b)));
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.count("INBOX")).as("getmail deleted what it fetched").isZero();
        }
    }

    /** getmail --idle: IDLE through the proxy, woken by a message delivered upstream meanwhile. */
    @Test
    void getmailIdleFetchesAMessageThatArrivesWhileIdling() throws Exception {
        byte[] a = msg("getmail idle a", 2000, 73);
        byte[] b = msg("getmail idle b", 30 * 1024, 74);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            m.append("INBOX", a);
        }
        Path home = Files.createTempDirectory(env.scratch, "getmail-idle");
        Path out = Files.createDirectories(home.resolve("out"));
        getmailConfig(home, "SimpleIMAPRetriever", CLIENT, numberingMda(home, out));
        Path log = home.resolve("getmail.log");
        long t0 = System.nanoTime();
        ProcessBuilder pb = new ProcessBuilder("getmail", "--getmaildir", home.toString(), "--rcfile", "getmailrc",
                "--idle", "INBOX").directory(home.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("HOME", home.toString());
        pb.environment().put("PYTHONUNBUFFERED", "1"); // its log is read while it runs
        Process p = pb.start();
        try {
            org.awaitility.Awaitility.await("getmail fetched a, then went idle").atMost(Duration.ofSeconds(30))
                    .until(() -> files(out).size() == 1 && Files.readString(log).contains("retrieved"));
            try (UpstreamMailbox m = env.mailbox(USER)) {
                assertThat(m.count("INBOX")).as("a deleted").isZero();
                m.append("INBOX", b);
            }
            org.awaitility.Awaitility.await("getmail woke up from IDLE and fetched b").atMost(Duration.ofSeconds(30))
                    .until(() -> files(out).size() == 2);
            timing("getmail --idle (fetch, idle, wake, fetch)", t0);
            assertThat(p.isAlive()).as("getmail still idling: " + Files.readString(log)).isTrue();
            assertThat(Files.readString(log)).as("woken by IDLE, not by polling").contains("IDLE message received");
        } finally {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
        }
        List<byte[]> delivered = files(out);
        Exact.assertSameBytes("a as delivered", delivered.get(0), returnPath(Maildir.lf(a)));
        Exact.assertSameBytes("b as delivered", delivered.get(1), returnPath(Maildir.lf(b)));
        org.awaitility.Awaitility.await("b deleted upstream").atMost(Duration.ofSeconds(10)).until(() -> {
            try (UpstreamMailbox m = env.mailbox(USER)) {
                return m.count("INBOX") == 0;
            }
        });
    }

    private void getmailConfig(Path home, String retriever, String client, Path mda) throws IOException {
        boolean imap = retriever.contains("IMAP");
        String rc = "[retriever]\ntype = " + retriever + "\nserver = " + Proxy.HOST + "\nport = "
                + (imap ? proxy.imapPort() : proxy.pop3Port()) + "\nusername = " + client + "\npassword = "
                + Proxy.secret(client) + "\ntimeout = 30\n"
                // without record_mailbox = false the IMAP retriever adds X-getmail-retrieved-from-mailbox
                + (imap ? "mailboxes = (\"INBOX\",)\nrecord_mailbox = false\n" : "") + "\n"
                + "[destination]\ntype = MDA_external\npath = " + mda + "\nunixfrom = false\n"
                // the suite runs as root in CI; getmail refuses to run commands as root unless told
                + "allow_root_commands = true\n\n"
                + "[options]\nverbose = 2\nread_all = true\ndelete = true\nreceived = false\ndelivered_to = false\n"
                + "message_log_syslog = false\n";
        privateFile(home.resolve("getmailrc"), rc);
    }

    private static byte[] returnPath(byte[] message) {
        byte[] head = "Return-Path: <unknown>\n".getBytes(StandardCharsets.US_ASCII);
        byte[] outb = Arrays.copyOf(head, head.length + message.length);
        System.arraycopy(message, 0, outb, head.length, message.length);
        return outb;
    }

    // ---------------------------------------------------------------------------------------------- mpop

    @Test
    void mpopKeepsMessagesAndFetchesOnlyNewUidls() throws IOException {
        byte[] a = msg("mpop a", 1000, 81);
        byte[] b = msg("mpop b", 120 * 1024, 82);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            m.append("INBOX", a);
            m.append("INBOX", b);
        }
        Path home = Files.createTempDirectory(env.scratch, "mpop");
        Path out = Files.createDirectories(home.resolve("out"));
        Path mda = numberingMda(home, out);
        String account = "account proxy\nhost " + Proxy.HOST + "\nport " + proxy.pop3Port()
                + "\ntls off\nauth user\nuser " + CLIENT + "\npassword " + Proxy.secret(CLIENT)
                + "\ntimeout 30\nuidls_file " + home.resolve("uidls") + "\ndelivery mda " + mda
                + "\nreceived_header off\n";
        Path keep = privateFile(home.resolve("mpoprc-keep"), account + "keep on\nonly_new on\n");

        mpop(home, keep, "first run");
        List<byte[]> delivered = files(out);
        assertThat(delivered).hasSize(2);
        Exact.assertSameBytes("a as delivered (LF)", delivered.get(0), Maildir.lf(a));
        Exact.assertSameBytes("b as delivered (LF)", delivered.get(1), Maildir.lf(b));

        byte[] c = msg("mpop c", 5000, 83);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.count("INBOX")).as("keep on: nothing deleted").isEqualTo(2);
            m.append("INBOX", c);
        }
        mpop(home, keep, "second run");
        delivered = files(out);
        assertThat(delivered).as("only the new UIDL is fetched").hasSize(3);
        Exact.assertSameBytes("c as delivered (LF)", delivered.get(2), Maildir.lf(c));
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.count("INBOX")).isEqualTo(3);
        }

        // without keep, mpop deletes what it has already seen (by UIDL) without fetching it again
        Path delete = privateFile(home.resolve("mpoprc-delete"), account + "keep off\nonly_new on\n");
        mpop(home, delete, "delete run");
        assertThat(files(out)).as("nothing fetched again").hasSize(3);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.count("INBOX")).as("DELE of every old UIDL, then QUIT").isZero();
        }
    }

    /**
     * mpop against POP3 served from the IMAP INBOX: it pipelines TOP (for its filter) and RETR for every message,
     * keeps them, and on a later run without keep deletes them (on-delete expunge) by UIDL.
     */
    @Test
    void mpopPipelinesTopAndRetrThroughPop3OverImap() throws IOException {
        List<byte[]> stored = new ArrayList<>();
        List<Long> uids = new ArrayList<>();
        long uidValidity;
        try (UpstreamMailbox m = env.mailbox(USER)) {
            for (int i = 0; i < 8; i++) {
                byte[] msg = msg("mpop imap " + i, i % 3 == 0 ? 300 * 1024 : 1000 + 3000 * i, 84 + i);
                uids.add(m.append("INBOX", msg, i % 2 == 0 ? "\\Seen" : ""));
                stored.add(msg);
            }
            uidValidity = m.uidValidity("INBOX");
        }
        String client = Proxy.POP3IMAP_CLIENTS;
        Path home = Files.createTempDirectory(env.scratch, "mpop-imap");
        Path out = Files.createDirectories(home.resolve("out"));
        Path headers = Files.createDirectories(home.resolve("headers"));
        Path filter = home.resolve("filter.sh");
        // mpop's filter gets each message's header (from TOP n 0) on stdin; exit 0 means fetch it
        Files.writeString(filter, "#!/bin/sh\nn=$(ls '" + headers + "' | wc -l)\ncat > '" + headers
                + "'/$(printf %04d $n).txt\nexit 0\n");
        Files.setPosixFilePermissions(filter, PosixFilePermissions.fromString("rwx------"));
        String account = "account proxy\nhost " + Proxy.HOST + "\nport " + proxy.pop3Port()
                + "\ntls off\nauth user\nuser " + client + "\npassword " + Proxy.secret(client)
                + "\ntimeout 30\npipelining on\nuidls_file " + home.resolve("uidls") + "\ndelivery mda "
                + numberingMda(home, out) + "\nreceived_header off\nfilter " + filter + "\n";
        Path keep = privateFile(home.resolve("mpoprc-keep"), account + "keep on\nonly_new on\n");
        Proc.Result r = mpop(home, keep, "over IMAP, TOP and RETR");
        assertThat(r.out() + r.stderr()).as(r.describe()).contains("--> TOP 8 0").contains("--> RETR 8");
        List<byte[]> delivered = files(out);
        List<byte[]> tops = files(headers);
        assertThat(delivered).hasSize(8);
        assertThat(tops).hasSize(8);
        for (int i = 0; i < 8; i++) {
            byte[] lf = Maildir.lf(stored.get(i));
            Exact.assertSameBytes("message " + i + " as delivered (LF)", delivered.get(i), lf);
            Exact.assertSameBytes("header " + i + " as the filter got it", tops.get(i),
                    Arrays.copyOf(lf, Maildir.headerEnd(lf) + 1));
        }
        String uidls = Files.readString(home.resolve("uidls"));
        for (long uid : uids) {
            assertThat(uidls).as("UIDL <uidvalidity>.<uid>").contains("\n" + uidValidity + "." + uid + "\n");
        }
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.count("INBOX")).as("keep on").isEqualTo(8);
        }
        Path delete = privateFile(home.resolve("mpoprc-delete"), account + "keep off\nonly_new on\n");
        mpop(home, delete, "over IMAP, delete run");
        assertThat(files(out)).as("nothing fetched again").hasSize(8);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.count("INBOX")).as("on-delete expunge at QUIT").isZero();
        }
    }

    private Proc.Result mpop(Path home, Path rc, String what) throws IOException {
        long t0 = System.nanoTime();
        Proc.Result r = Proc.run(LIMIT, null, Map.of("HOME", home.toString()), home,
                List.of("mpop", "-C", rc.toString(), "--debug", "proxy"));
        timing("mpop " + what, t0);
        assertThat(r.exit()).as(r.describe()).isZero();
        return r;
    }

    // ---------------------------------------------------------------------------------------------- msmtp

    @ParameterizedTest(name = "AUTH {0}")
    @ValueSource(strings = {"plain", "login"})
    void msmtpSubmitsByteIdentical(String mechanism) throws IOException {
        String rcpt = "msmtp-" + mechanism + "@elsewhere.test";
        byte[] msg = Messages.message(USER, rcpt, "msmtp " + mechanism, 80 * 1024, 91);
        Path home = Files.createTempDirectory(env.scratch, "msmtp");
        Path rc = privateFile(home.resolve("msmtprc"), "account proxy\nhost " + Proxy.HOST + "\nport "
                + proxy.smtpPort() + "\ntls off\nauth " + mechanism + "\nuser " + CLIENT + "\npassword "
                + Proxy.secret(CLIENT) + "\nfrom " + USER + "\ntimeout 30\n"
                // msmtp adds Date and Message-ID only when missing; the test message has both
                + "set_date_header auto\nset_msgid_header auto\n");
        long t0 = System.nanoTime();
        Proc.Result r = Proc.run(LIMIT, msg, Map.of("HOME", home.toString()), home,
                List.of("msmtp", "--debug", "-C", rc.toString(), "-a", "proxy", rcpt));
        timing("msmtp " + mechanism, t0);
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).as(r.describe()).contains("AUTH " + mechanism.toUpperCase());
        List<SmtpSink.Received> got = env.sink.messagesTo(rcpt);
        assertThat(got).hasSize(1);
        assertThat(got.get(0).mailFrom()).isEqualTo(USER);
        Exact.assertRelayed(got.get(0).data(), msg);
    }

    @Test
    void msmtpGetsTheUpstreamsRejectionOfARecipient() throws IOException {
        String rcpt = "reject-msmtp@elsewhere.test";
        Path home = Files.createTempDirectory(env.scratch, "msmtp-reject");
        Proc.Result r = Proc.run(LIMIT, Messages.small(USER, rcpt, "msmtp rejected"), Map.of("HOME", home.toString()),
                home, List.of("msmtp", "--host=" + Proxy.HOST, "--port=" + proxy.smtpPort(), "--tls=off",
                        "--auth=plain", "--user=" + CLIENT, "--passwordeval=echo " + Proxy.secret(CLIENT),
                        "--from=" + USER, rcpt));
        assertThat(r.exit()).as(r.describe()).isEqualTo(65); // EX_DATAERR: recipient refused
        assertThat(r.stderr()).as(r.describe()).contains("550");
        assertThat(env.sink.messagesTo(rcpt)).isEmpty();
    }

    // ---------------------------------------------------------------------------------------------- s-nail

    /** s-nail in batch mode on an IMAP folder: flag one message, move one to Archive, delete one. */
    @Test
    void snailChangesTheMailboxUpstreamThroughImap() throws IOException {
        byte[] a = msg("snail a", 1000, 101);
        byte[] b = msg("snail b", 40 * 1024, 102);
        byte[] c = msg("snail c", 1000, 103);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            m.append("INBOX", a);
            m.append("INBOX", b);
            m.append("INBOX", c);
        }
        String base = "imap://" + CLIENT + ":" + Proxy.secret(CLIENT) + "@" + Proxy.HOST + ":" + proxy.imapPort();
        Proc.Result r = snail("flag 1\nmove 2 +Archive\ndelete 3\nquit\n", "-S", "imap-auth=login", "-S",
                "folder=" + base, "-f", base + "/INBOX");
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out() + r.stderr()).as(r.describe()).contains("Archive [Appended]");
        try (UpstreamMailbox m = env.mailbox(USER)) {
            List<UpstreamMailbox.Stored> inbox = m.fetchAll("INBOX");
            assertThat(inbox).hasSize(1);
            Exact.assertSameBytes("a, still in INBOX", inbox.get(0).bytes(), a);
            assertFlags(inbox.get(0).flags(), "\\Flagged");
            List<UpstreamMailbox.Stored> archive = m.fetchAll("Archive");
            assertThat(archive).hasSize(1);
            // s-nail moves by APPEND of the message as it keeps it: mbox-style, with an empty line at the end
            Exact.assertSameBytes("b as s-nail appended it to Archive", archive.get(0).bytes(),
                    concat(b, "\r\n".getBytes(StandardCharsets.US_ASCII)));
        }
    }

    /** s-nail composes and sends the message itself: its body must arrive exactly, with CRLF line ends. */
    @Test
    void snailSendsThroughSmtpAuth() throws IOException {
        String rcpt = "snail-rcpt@elsewhere.test";
        String body = "Gr\u00fc\u00dfe aus K\u00f6ln\n.a line starting with a dot\n..two dots\n.\nend\n";
        Proc.Result r = snail(body, "-S", "mta=smtp://" + CLIENT + ":" + Proxy.secret(CLIENT) + "@" + Proxy.HOST + ":"
                + proxy.smtpPort(), "-S", "smtp-auth=plain", "-S", "from=" + USER, "-S", "ttycharset=utf-8",
                "-S", "sendcharsets=utf-8", "-S", "mime-encoding=8bit", "-s", "s-nail subject", rcpt);
        assertThat(r.exit()).as(r.describe()).isZero();
        List<SmtpSink.Received> got = env.sink.messagesTo(rcpt);
        assertThat(got).hasSize(1);
        assertThat(got.get(0).mailFrom()).isEqualTo(USER);
        byte[] data = got.get(0).data();
        int end = Maildir.headerEnd(data);
        String head = new String(data, 0, end, StandardCharsets.UTF_8);
        assertThat(head).contains("\r\nSubject: s-nail subject\r\n").contains("\r\nTo: " + rcpt + "\r\n")
                .contains("\r\nFrom: " + USER + "\r\n").contains("Content-Transfer-Encoding: 8bit\r\n");
        Exact.assertSameBytes("the body after the header", Arrays.copyOfRange(data, end, data.length),
                ("\r\n" + body.replace("\n", "\r\n")).getBytes(StandardCharsets.UTF_8));
    }

    private Proc.Result snail(String stdin, String... args) throws IOException {
        Path home = Files.createTempDirectory(env.scratch, "snail");
        List<String> cmd = new ArrayList<>(List.of("s-nail", "-n", "-#", "-S", "v15-compat", "-S", "verbose"));
        cmd.addAll(List.of(args));
        long t0 = System.nanoTime();
        Proc.Result r = Proc.run(LIMIT, stdin.getBytes(StandardCharsets.UTF_8),
                Map.of("HOME", home.toString(), "MAILRC", "/dev/null", "LC_ALL", "C.UTF-8"), home, cmd);
        timing("s-nail " + (args.length > 0 ? args[args.length - 1].replaceAll(".*[/@]", "") : ""), t0);
        return r;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    // ---------------------------------------------------------------------------------------------- client policies

    /**
     * offlineimap as a client with an allow-list (INBOX, Archive): it sees and syncs only those, and gets the answer
     * to its first question, LIST "" "" (the hierarchy delimiter), which the proxy used to filter away.
     */
    @Test
    void offlineimapWithAnAllowListSyncsOnlyTheAllowedFolders() throws IOException {
        byte[] a = msg("oi allowed inbox", 3000, 65);
        byte[] b = msg("oi allowed archive", 20 * 1024, 66);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            m.append("INBOX", a);
            m.append("Archive", b, "\\Seen");
            m.append("Trash", msg("oi hidden trash", 1000, 67));
        }
        String client = Proxy.FOLDERS_CLIENTS;
        Path home = Files.createTempDirectory(env.scratch, "offlineimap-folders");
        Path rc = privateFile(home.resolve("offlineimaprc"), offlineimapConfig(home, client, "LOGIN", null));
        Proc.Result r = offlineimap(home, rc, "with an allow-list");
        String log = r.out() + r.stderr();
        assertThat(log).as("offlineimap asked for the hierarchy delimiter").contains("LIST \"\" \"\"");
        assertThat(log).as("and got it: " + r.describe()).contains("< b'* LIST (\\\\Noselect) \"/\" \"\"\\r\\n'");
        assertThat(log).as("no folder outside the allow-list was listed").doesNotContain("Trash");
        try (Stream<Path> dirs = Files.list(home.resolve("mail"))) {
            assertThat(dirs.map(p -> p.getFileName().toString()).sorted().toList()).containsExactly("Archive", "INBOX");
        }
        List<Maildir.Msg> inbox = Maildir.read(home.resolve("mail").resolve("INBOX"));
        List<Maildir.Msg> archive = Maildir.read(home.resolve("mail").resolve("Archive"));
        assertThat(inbox).hasSize(1);
        assertThat(archive).hasSize(1);
        Exact.assertSameBytes("INBOX message", inbox.get(0).bytes(), Maildir.lf(a));
        Exact.assertSameBytes("Archive message", archive.get(0).bytes(), Maildir.lf(b));
        assertThat(archive.get(0).flags()).isEqualTo("S");
    }

    /**
     * CATENATE through the proxy with imaplib, as a client allowed INBOX and Archive: a URL into INBOX builds the
     * message upstream exactly; a URL into Trash (not allowed) is refused and nothing is appended.
     */
    @Test
    void catenateThroughTheProxyMayOnlyReadAllowedMailboxes() throws IOException {
        byte[] a = msg("catenate allowed", 3000, 68);
        byte[] hidden = msg("catenate hidden", 2000, 69);
        long ua;
        long ut;
        long vInbox;
        long vTrash;
        try (UpstreamMailbox m = env.mailbox(USER)) {
            ua = m.append("INBOX", a);
            ut = m.append("Trash", hidden);
            vInbox = m.uidValidity("INBOX");
            vTrash = m.uidValidity("Trash");
        }
        String script = """
                import imaplib, sys
                host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
                m = imaplib.IMAP4(host, port)
                m.login(user, pw)
                # Dovecot resolves a URL into a mailbox that this (pooled) upstream session had open before from
                # that old view, missing messages added since ("BADURL ... Message not found"); with the mailbox
                # selected it uses the current one
                m.select("INBOX", readonly=True)
                for url in sys.argv[5:]:
                    typ, data = m._simple_command("APPEND", "Archive", "CATENATE", '(URL "%s")' % url)
                    print("append", url, typ, data[0].decode())
                m.logout()
                """;
        String allowed = "/INBOX;UIDVALIDITY=" + vInbox + "/;UID=" + ua;
        String forbidden = "/Trash;UIDVALIDITY=" + vTrash + "/;UID=" + ut;
        Proc.Result r = Python.run(env.scratch, script, Proxy.HOST, "" + proxy.imapPort(), Proxy.FOLDERS_CLIENTS,
                Proxy.secret(Proxy.FOLDERS_CLIENTS), allowed, forbidden);
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).as(r.describe()).contains("append " + allowed + " OK [APPENDUID ")
                .contains("append " + forbidden + " NO [NOPERM]");
        try (UpstreamMailbox m = env.mailbox(USER)) {
            List<UpstreamMailbox.Stored> archive = m.fetchAll("Archive");
            assertThat(archive).as("only the allowed URL was appended").hasSize(1);
            Exact.assertSameBytes("the message built from the INBOX URL", archive.get(0).bytes(), a);
        }
    }

    /**
     * mbsync as a read-only client: it pulls every message exactly (SELECT became EXAMINE, answered [READ-ONLY]),
     * and a flag it then tries to push is refused with NO [NOPERM], leaving the upstream as it was.
     */
    @Test
    void mbsyncAsAReadOnlyClientPullsExactlyAndCannotChangeTheUpstream() throws IOException {
        byte[] a = msg("mbsync ro a", 4000, 57);
        byte[] b = msg("mbsync ro b", 60 * 1024, 58);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            m.append("INBOX", a);
            m.append("INBOX", b, "\\Seen");
        }
        String client = Proxy.READ_ONLY_CLIENTS;
        Path home = Files.createTempDirectory(env.scratch, "mbsync-ro");
        Path inbox = home.resolve("mail").resolve("INBOX");
        Path rc = mbsyncConfig(home, Proxy.HOST, proxy.imapPort(), "SSLType None\nAuthMechs LOGIN\n"
                + "User " + client + "\nPass " + Proxy.secret(client) + "\n");
        Proc.Result r = mbsync(home, rc, "read-only pull");
        assertThat(r.out() + r.stderr()).contains("OK [READ-ONLY]");
        List<Maildir.Msg> local = Maildir.read(inbox);
        assertThat(local).hasSize(2);
        assertPulled(local.get(0), a, "");
        assertPulled(local.get(1), b, "S");

        Maildir.setFlags(local.get(0), "F");
        Map<Long, String> before;
        try (UpstreamMailbox m = env.mailbox(USER)) {
            before = m.flags("INBOX");
        }
        long t0 = System.nanoTime();
        Proc.Result push = Proc.run(LIMIT, null, Map.of("HOME", home.toString()), home,
                List.of("mbsync", "-Dn", "-c", rc.toString(), "inbox"));
        timing("mbsync read-only push", t0);
        assertThat(push.out() + push.stderr()).as(push.describe())
                .containsPattern("(?m)^\\d+ NO \\[NOPERM\\] ");
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.flags("INBOX")).as("nothing changed upstream").isEqualTo(before);
        }
    }

    // ---------------------------------------------------------------------------------------------- helpers

    private static byte[] msg(String subject, int size, long seed) {
        return Messages.message(USER, USER, subject, size, seed);
    }

    private static Map<String, UpstreamMailbox.Stored> bySubject(List<UpstreamMailbox.Stored> messages) {
        Map<String, UpstreamMailbox.Stored> m = new LinkedHashMap<>();
        for (UpstreamMailbox.Stored s : messages) {
            m.put(Maildir.subject(s.bytes()), s);
        }
        return m;
    }

    private static long uidOf(UpstreamMailbox m, String subject) throws IOException {
        UpstreamMailbox.Stored s = bySubject(m.fetchAll("INBOX")).get(subject);
        assertThat(s).as(subject).isNotNull();
        m.ok("SELECT INBOX");
        return s.uid();
    }

    private static void assertFlags(String actual, String... expected) {
        Set<String> got = Stream.of(actual.split(" ")).filter(f -> !f.isEmpty()).collect(Collectors.toSet());
        assertThat(got).as("upstream flags " + actual).containsExactlyInAnyOrder(expected);
    }

    private static String sorted(String flags) {
        return flags.chars().mapToObj(ch -> String.valueOf((char) ch)).collect(Collectors.toCollection(TreeSet::new))
                .stream().collect(Collectors.joining());
    }

    private static void timing(String what, long t0) {
        System.out.printf("interop: %s took %d ms%n", what, (System.nanoTime() - t0) / 1_000_000);
    }
}
