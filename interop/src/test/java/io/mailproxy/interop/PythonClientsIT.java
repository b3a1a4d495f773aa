package io.mailproxy.interop;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Python's imaplib, poplib and smtplib (the standard library of /usr/bin/python3) through the proxy. */
@ExtendWith(Interop.Extension.class)
class PythonClientsIT {

    static final String USER = "python@" + Interop.DOMAIN;
    static final String CLIENT = Proxy.client(USER);

    static final String IMAP_FETCH = """
            import imaplib, sys, os
            host, port, user, pw, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
            m = imaplib.IMAP4(host, port)
            print("caps", " ".join(m.capabilities))
            m.login(user, pw)
            typ, data = m.select("INBOX", readonly=True)
            print("select", typ, data[0].decode())
            typ, data = m.uid("SEARCH", None, "ALL")
            for uid in data[0].split():
                typ, parts = m.uid("FETCH", uid, "(BODY.PEEK[])")
                assert typ == "OK", (typ, parts)
                body = parts[0][1]
                with open(os.path.join(out, uid.decode() + ".eml"), "wb") as f:
                    f.write(body)
            typ, data = m.list()
            print("list", typ, [d.decode() for d in data])
            print("logout", m.logout()[0])
            """;

    static final String IMAP_APPEND_MOVE = """
            import imaplib, sys
            host, port, user, pw, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
            m = imaplib.IMAP4(host, port)
            m.login(user, pw)
            data = open(path, "rb").read()
            typ, resp = m.append("INBOX", "(\\\\Flagged)", None, data)
            print("append", typ, resp[0].decode())
            m.select("INBOX")
            typ, resp = m.uid("SEARCH", None, "FLAGGED")
            uid = resp[0].split()[-1]
            typ, resp = m.uid("COPY", uid, "Archive")
            print("copy", typ)
            typ, resp = m.uid("STORE", uid, "+FLAGS", "(\\\\Deleted)")
            typ, resp = m.expunge()
            print("expunge", typ)
            m.logout()
            """;

    static final String POP3_RETR = """
            import poplib, sys, os
            host, port, user, pw, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
            p = poplib.POP3(host, port)
            print("greeting", p.getwelcome().decode())
            print("capa", sorted(p.capa().keys()))
            p.user(user)
            p.pass_(pw)
            count, size = p.stat()
            print("stat", count, size)
            resp, uidls, _ = p.uidl()
            print("uidl", [u.decode() for u in uidls])
            for i in range(1, count + 1):
                resp, lines, octets = p.retr(i)
                with open(os.path.join(out, "%d.eml" % i), "wb") as f:
                    f.write(b"\\r\\n".join(lines) + b"\\r\\n")
            print("quit", p.quit().decode())
            """;

    static final String SMTP_SEND = """
            import smtplib, sys, json
            host, port, user, pw, sender, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
            rcpts = sys.argv[7:]
            s = smtplib.SMTP(host, port)
            code, ehlo = s.ehlo()
            print("ehlo", code, ehlo.decode().replace("\\n", " | "))
            s.login(user, pw)
            data = open(path, "rb").read()
            try:
                refused = s.sendmail(sender, rcpts, data)
                print("refused", json.dumps({k: [v[0], v[1].decode()] for k, v in refused.items()}))
            except smtplib.SMTPRecipientsRefused as e:
                print("all-refused", json.dumps({k: [v[0], v[1].decode()] for k, v in e.recipients.items()}))
            print("quit", s.quit()[0])
            """;

    Interop env;
    Proxy proxy;

    @BeforeEach
    void setUp(Interop env) throws IOException {
        this.env = env;
        this.proxy = env.proxy();
        env.clear(USER);
    }

    @Test
    void imaplibFetchesEveryMessageByteIdentical() throws IOException {
        byte[] a = Messages.message(USER, USER, "py imap a", 1024, 21);
        byte[] b = Messages.message(USER, USER, "py imap b", 100 * 1024, 22);
        long ua;
        long ub;
        try (UpstreamMailbox m = env.mailbox(USER)) {
            ua = m.append("INBOX", a);
            ub = m.append("INBOX", b, "\\Seen");
        }
        Path out = Files.createTempDirectory(env.scratch, "py-imap");
        Proc.Result r = Python.run(env.scratch, IMAP_FETCH, Proxy.HOST, "" + proxy.imapPort(), CLIENT,
                Proxy.secret(CLIENT), out.toString());
        assertThat(r.exit()).as(r.describe()).isZero();
        Exact.assertSameBytes("delivered", Files.readAllBytes(out.resolve(ua + ".eml")), a);
        Exact.assertSameBytes("delivered", Files.readAllBytes(out.resolve(ub + ".eml")), b);
        assertThat(r.out()).contains("select OK 2").contains("Archive").contains("logout BYE");
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.flags("INBOX").get(ua)).as("BODY.PEEK leaves \\Seen unset").doesNotContain("\\Seen");
        }
    }

    @Test
    void imaplibAppendCopyExpungeChangeTheUpstream() throws IOException {
        byte[] msg = Messages.message(USER, USER, "py append", 5000, 23);
        Path file = Files.write(env.scratch.resolve("py-append.eml"), msg);
        Proc.Result r = Python.run(env.scratch, IMAP_APPEND_MOVE, Proxy.HOST, "" + proxy.imapPort(), CLIENT,
                Proxy.secret(CLIENT), file.toString());
        assertThat(r.exit()).as(r.describe()).isZero();
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.count("INBOX")).isZero();
            List<UpstreamMailbox.Stored> archived = m.fetchAll("Archive");
            assertThat(archived).hasSize(1);
            assertThat(archived.get(0).bytes()).isEqualTo(msg);
            assertThat(archived.get(0).flags()).contains("\\Flagged");
        }
    }

    @Test
    void poplibRetrievesEveryMessageByteIdentical() throws IOException {
        byte[] a = Messages.message(USER, USER, "py pop a", 1024, 24);
        byte[] b = Messages.message(USER, USER, "py pop b", 100 * 1024, 25);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            m.append("INBOX", a);
            m.append("INBOX", b);
        }
        Path out = Files.createTempDirectory(env.scratch, "py-pop");
        Proc.Result r = Python.run(env.scratch, POP3_RETR, Proxy.HOST, "" + proxy.pop3Port(), CLIENT,
                Proxy.secret(CLIENT), out.toString());
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).contains("stat 2 " + (a.length + b.length));
        Exact.assertSameBytes("delivered", Files.readAllBytes(out.resolve("1.eml")), a);
        Exact.assertSameBytes("delivered", Files.readAllBytes(out.resolve("2.eml")), b);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.count("INBOX")).as("nothing deleted without DELE").isEqualTo(2);
        }
    }

    @Test
    void smtplibSendsByteIdenticalAndGetsTheRejectedRecipientBack() throws IOException {
        String good = "py-good@elsewhere.test";
        String bad = "reject-py@elsewhere.test";
        byte[] msg = Messages.message(USER, good, "py smtp", 50 * 1024, 26);
        Path file = Files.write(env.scratch.resolve("py-smtp.eml"), msg);
        Proc.Result r = Python.run(env.scratch, SMTP_SEND, Proxy.HOST, "" + proxy.smtpPort(), CLIENT,
                Proxy.secret(CLIENT), USER, file.toString(), good, bad);
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).contains("refused {\"" + bad + "\": [550");
        List<SmtpSink.Received> got = env.sink.messagesTo(good);
        assertThat(got).hasSize(1);
        assertThat(got.get(0).rcptTo()).containsExactly(good);
        Exact.assertRelayed(got.get(0).data(), msg);
    }

    @Test
    void smtplibWithOnlyRejectedRecipientsSendsNothing() throws IOException {
        String bad = "reject-py-only@elsewhere.test";
        Path file = Files.write(env.scratch.resolve("py-smtp-bad.eml"), Messages.small(USER, bad, "py rejected"));
        Proc.Result r = Python.run(env.scratch, SMTP_SEND, Proxy.HOST, "" + proxy.smtpPort(), CLIENT,
                Proxy.secret(CLIENT), USER, file.toString(), bad);
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).contains("all-refused {\"" + bad + "\": [550");
        assertThat(env.sink.messagesTo(bad)).isEmpty();
    }
}
