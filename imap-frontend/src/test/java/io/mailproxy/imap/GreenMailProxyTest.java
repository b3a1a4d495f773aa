package io.mailproxy.imap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetupTest;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.imap.ImapClient;
import io.mailproxy.core.pool.Lease;
import io.mailproxy.core.pool.UpstreamPools;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.core.upstream.UpstreamSession;
import io.mailproxy.testkit.core.FakeCore;
import io.mailproxy.testkit.core.FakeListener;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import jakarta.mail.Flags;
import jakarta.mail.Folder;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Store;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Through real sockets: clients (raw and Angus Mail) talk to the IMAP frontend, which relays to GreenMail over
 * connections logged in with core's {@link ImapClient} (standing in for the pool).
 */
class GreenMailProxyTest {

    private static final String MAILBOX = "reports@contoso.com";
    private static GreenMail greenMail;
    private static EventLoopGroup group;
    private static Channel server;
    private static final List<String> endings = new CopyOnWriteArrayList<>();
    private static int port;
    private static final List<Channel> accepted = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        greenMail = new GreenMail(ServerSetupTest.IMAP.dynamicPort());
        greenMail.start();
        greenMail.setUser(MAILBOX, MAILBOX, "upstream-pw");
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        UpstreamPools pools = (account, protocol) -> connectUpstream();
        FakeCore services = new FakeCore().withClock(FakeCore.FIXED_CLOCK);
        services.withPools(pools);
        services.client("alice", "secret", ClientConfig.ImapPolicy.DEFAULT, Protocol.IMAP);
        ImapFrontend frontend = new ImapFrontend(services);
        FakeListener listener = new FakeListener(io.mailproxy.core.Protocol.IMAP);
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted.add(ch);
                        frontend.initChannel(ch, listener);
                    }
                }).bind("127.0.0.1", 0).sync().channel();
        port = ((InetSocketAddress) server.localAddress()).getPort();
    }

    @AfterAll
    static void stop() throws Exception {
        server.close().sync();
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).sync();
        greenMail.stop();
    }

    /** A logged-in upstream connection, as the pool would lease it (AUTO_READ off, no handlers left). */
    private static CompletableFuture<Lease> connectUpstream() {
        CompletableFuture<Lease> result = new CompletableFuture<>();
        new Bootstrap().group(group).channel(NioSocketChannel.class).option(ChannelOption.AUTO_READ, false)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) { }
                })
                .connect("127.0.0.1", greenMail.getImap().getPort()).addListener(f -> {
                    if (!f.isSuccess()) {
                        result.completeExceptionally(new UpstreamException(UpstreamException.Kind.UNREACHABLE, "connect"));
                        return;
                    }
                    Channel ch = ((io.netty.channel.ChannelFuture) f).channel();
                    ImapClient imap = ImapClient.attach(ch);
                    imap.execute("LOGIN \"" + MAILBOX + "\" upstream-pw").thenCompose(ok -> imap.execute("CAPABILITY"))
                            .whenComplete((caps, e) -> ch.eventLoop().execute(() -> {
                                if (e != null) {
                                    result.completeExceptionally(e);
                                    return;
                                }
                                imap.detach();
                                Set<String> capabilities = Set.of(caps.first("CAPABILITY").orElseThrow().text()
                                        .substring("* CAPABILITY ".length()).toUpperCase().split(" "));
                                UpstreamSession session = new UpstreamSession(Protocol.IMAP, ch, "* OK", capabilities, Optional.empty());
                                result.complete(new Lease() {
                                    @Override
                                    public UpstreamSession session() {
                                        return session;
                                    }

                                    @Override
                                    public void release(boolean dirty) {
                                        endings.add(dirty ? "release(dirty)" : "release(clean)");
                                        ch.close();
                                    }

                                    @Override
                                    public void discard() {
                                        endings.add("discard");
                                        ch.close();
                                    }
                                });
                            }));
                });
        return result;
    }

    private static void deliver(String subject, int bodySize) throws Exception {
        MimeMessage m = new MimeMessage((Session) null);
        m.setFrom(new InternetAddress("sender@example.com"));
        m.setRecipient(Message.RecipientType.TO, new InternetAddress(MAILBOX));
        m.setSubject(subject);
        StringBuilder body = new StringBuilder(bodySize + 100);
        int line = 0;
        while (body.length() < bodySize) {
            body.append("line ").append(line++).append(" of ").append(subject).append(" ........................................\r\n");
        }
        m.setText(body.toString());
        greenMail.getManagers().getUserManager().getUser(MAILBOX).deliver(m);
    }

    /** A raw IMAP conversation: sends lines, reads until the tagged completion. */
    private static final class Raw implements AutoCloseable {
        final Socket socket;
        final InputStream in;
        final OutputStream out;

        Raw(int port) throws Exception {
            socket = new Socket("127.0.0.1", port);
            socket.setSoTimeout(15_000);
            in = socket.getInputStream();
            out = socket.getOutputStream();
            readUntil("\r\n"); // greeting
        }

        byte[] command(String tag, String command) throws Exception {
            out.write((tag + " " + command + "\r\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            return readUntilTagged(tag);
        }

        byte[] readUntilTagged(String tag) throws Exception {
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            byte[] marker = ("\r\n" + tag + " ").getBytes(StandardCharsets.US_ASCII);
            byte[] buf = new byte[65536];
            while (true) {
                int n = in.read(buf);
                if (n < 0) {
                    throw new AssertionError("closed; got " + got.toString(StandardCharsets.UTF_8));
                }
                got.write(buf, 0, n);
                byte[] all = got.toByteArray();
                String s = new String(all, Math.max(0, all.length - 300), Math.min(300, all.length), StandardCharsets.ISO_8859_1);
                int at = s.lastIndexOf(new String(marker, StandardCharsets.ISO_8859_1));
                boolean startsTagged = got.size() > tag.length() && new String(all, 0, tag.length() + 1, StandardCharsets.ISO_8859_1).equals(tag + " ");
                if ((at >= 0 || startsTagged) && s.endsWith("\r\n") && (startsTagged && !s.substring(0, s.length() - 2).contains("\r\n")
                        || at >= 0 && s.indexOf("\r\n", at + 2) == s.length() - 2)) {
                    return all;
                }
            }
        }

        String readUntil(String end) throws Exception {
            StringBuilder sb = new StringBuilder();
            while (!sb.toString().endsWith(end)) {
                int b = in.read();
                if (b < 0) {
                    break;
                }
                sb.append((char) b);
            }
            return sb.toString();
        }

        @Override
        public void close() throws Exception {
            socket.close();
        }
    }

    @Test
    void fetchesAreByteIdenticalToTheUpstreams() throws Exception {
        deliver("one-kilobyte", 1_000);
        deliver("hundred-kilobytes", 100_000);
        deliver("ten-megabytes", 10_000_000);
        try (Raw direct = new Raw(greenMail.getImap().getPort()); Raw proxied = new Raw(port)) {
            direct.command("d1", "LOGIN \"" + MAILBOX + "\" upstream-pw");
            assertThat(new String(proxied.command("a1", "LOGIN alice secret"), StandardCharsets.UTF_8)).startsWith("a1 OK [CAPABILITY IMAP4rev1");
            direct.command("s", "EXAMINE INBOX");
            proxied.command("s", "EXAMINE INBOX");
            for (String subject : List.of("one-kilobyte", "hundred-kilobytes", "ten-megabytes")) {
                String search = new String(direct.command("q", "UID SEARCH SUBJECT " + subject), StandardCharsets.UTF_8);
                String uid = search.split("\r\n")[0].substring("* SEARCH ".length()).trim();
                byte[] viaDirect = direct.command("f", "UID FETCH " + uid + " BODY.PEEK[]");
                byte[] viaProxy = proxied.command("f", "UID FETCH " + uid + " BODY.PEEK[]");
                assertThat(viaProxy.length).as(subject).isGreaterThan(1_000);
                assertThat(viaProxy).as(subject).isEqualTo(viaDirect);
            }
            assertThat(new String(proxied.command("z", "LOGOUT"), StandardCharsets.UTF_8))
                    .isEqualTo("* BYE Logging out\r\nz OK LOGOUT completed\r\n");
        }
        await().dontCatchUncaughtExceptions().atMost(Duration.ofSeconds(5)).until(() -> endings.contains("release(clean)"));
    }

    @Test
    void aClientThatDoesNotReadHoldsBackTheUpstream() throws Exception {
        deliver("slow-reader", 10_000_000);
        try (Raw proxied = new Raw(port)) {
            proxied.command("a1", "LOGIN alice secret");
            proxied.command("s", "EXAMINE INBOX");
            String search = new String(proxied.command("q", "UID SEARCH SUBJECT slow-reader"), StandardCharsets.UTF_8);
            String uid = search.split("\r\n")[0].substring("* SEARCH ".length()).trim();
            Channel session = accepted.get(accepted.size() - 1);
            proxied.out.write(("f UID FETCH " + uid + " BODY.PEEK[]\r\n").getBytes(StandardCharsets.US_ASCII));
            proxied.out.flush();
            // the client reads nothing: the proxy stops reading the upstream instead of queueing the message
            await().dontCatchUncaughtExceptions().atMost(Duration.ofSeconds(10)).until(() -> !session.isWritable());
            await().dontCatchUncaughtExceptions().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5))
                    .until(() -> pending(session) < 4_000_000);
            byte[] all = proxied.readUntilTagged("f");
            assertThat(all.length).isGreaterThan(10_000_000);
            assertThat(new String(all, all.length - 40, 40, StandardCharsets.US_ASCII)).endsWith("f OK FETCH completed.\r\n");
            proxied.command("z", "LOGOUT");
        }
    }

    private static long pending(Channel ch) {
        io.netty.channel.ChannelOutboundBuffer out = ch.unsafe().outboundBuffer();
        return out == null ? 0 : out.totalPendingWriteBytes();
    }

    @Test
    void appendOfTenMegabytesIsRelayed() throws Exception {
        byte[] message = ("From: a@example.com\r\nSubject: appended-10mb\r\n\r\n" + "0123456789abcdef\r\n".repeat(600_000))
                .getBytes(StandardCharsets.US_ASCII);
        try (Raw proxied = new Raw(port)) {
            proxied.command("a1", "LOGIN alice secret");
            proxied.out.write(("p1 APPEND INBOX {" + message.length + "}\r\n").getBytes(StandardCharsets.US_ASCII));
            proxied.out.flush();
            assertThat(proxied.readUntil("\r\n")).isEqualTo("+ Ready for literal data\r\n");
            proxied.out.write(message);
            proxied.out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
            proxied.out.flush();
            assertThat(new String(proxied.readUntilTagged("p1"), StandardCharsets.UTF_8)).contains("p1 OK");
            proxied.command("z", "LOGOUT");
        }
        try (Raw direct = new Raw(greenMail.getImap().getPort())) {
            direct.command("d1", "LOGIN \"" + MAILBOX + "\" upstream-pw");
            direct.command("s", "EXAMINE INBOX");
            String search = new String(direct.command("q", "UID SEARCH SUBJECT appended-10mb"), StandardCharsets.UTF_8);
            String uid = search.split("\r\n")[0].substring("* SEARCH ".length()).trim();
            byte[] fetched = direct.command("f", "UID FETCH " + uid + " BODY.PEEK[]");
            String head = "BODY[] {" + message.length + "}\r\n";
            String text = new String(fetched, StandardCharsets.ISO_8859_1);
            int at = text.indexOf(head);
            assertThat(at).as("the stored message has the appended size").isPositive();
            assertThat(java.util.Arrays.copyOfRange(fetched, at + head.length(), at + head.length() + message.length))
                    .isEqualTo(message);
        }
    }

    @Test
    void clientKilledMidFetchDiscardsAndTheNextSessionWorks() throws Exception {
        deliver("killed-mid-fetch", 5_000_000);
        int before = (int) endings.stream().filter("discard"::equals).count();
        try (Raw proxied = new Raw(port)) {
            proxied.command("a1", "LOGIN alice secret");
            proxied.command("s", "EXAMINE INBOX");
            String search = new String(proxied.command("q", "UID SEARCH SUBJECT killed-mid-fetch"), StandardCharsets.UTF_8);
            String uid = search.split("\r\n")[0].substring("* SEARCH ".length()).trim();
            proxied.out.write(("f UID FETCH " + uid + " BODY.PEEK[]\r\n").getBytes(StandardCharsets.US_ASCII));
            proxied.out.flush();
            proxied.in.readNBytes(100_000);
            proxied.socket.setSoLinger(true, 0);
        }
        await().dontCatchUncaughtExceptions().atMost(Duration.ofSeconds(5)).until(() -> endings.stream().filter("discard"::equals).count() > before);
        try (Raw again = new Raw(port)) {
            assertThat(new String(again.command("a1", "LOGIN alice secret"), StandardCharsets.UTF_8)).startsWith("a1 OK");
            assertThat(new String(again.command("n", "NOOP"), StandardCharsets.UTF_8)).endsWith("n OK NOOP completed.\r\n");
        }
    }

    @Test
    void pythonImaplibWorksThroughTheProxy() throws Exception {
        java.nio.file.Path python = java.nio.file.Path.of("/usr/bin/python3");
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isExecutable(python), "no /usr/bin/python3");
        deliver("for-python", 3_000);
        String script = String.join("\n",
                "import imaplib, sys",
                "m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))",
                "print(m.login('alice', 'secret')[0])",
                "print(m.select('INBOX')[0])",
                "typ, data = m.search(None, 'SUBJECT', 'for-python')",
                "num = data[0].split()[-1]",
                "typ, data = m.fetch(num, '(BODY.PEEK[])')",
                "print(typ, b'line 0 of for-python' in data[0][1])",
                "print(m.append('INBOX', None, None, b'Subject: from-python\\r\\n\\r\\nhello\\r\\n')[0])",
                "print(m.logout()[0])");
        Process p = new ProcessBuilder(python.toString(), "-c", script, String.valueOf(port)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(15, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(out).isEqualTo("OK\nOK\nOK True\nOK\nBYE\n");
        assertThat(p.exitValue()).isZero();
    }

    @Test
    void angusMailWorksThroughTheProxy() throws Exception {
        deliver("for-angus", 2_000);
        Properties p = new Properties();
        p.put("mail.imap.host", "127.0.0.1");
        p.put("mail.imap.port", String.valueOf(port));
        p.put("mail.imap.connectiontimeout", "10000");
        p.put("mail.imap.timeout", "10000");
        Store store = Session.getInstance(p).getStore("imap");
        store.connect("alice", "secret");
        try {
            Folder inbox = store.getFolder("INBOX");
            inbox.open(Folder.READ_WRITE);
            Message found = null;
            for (Message m : inbox.getMessages()) {
                if ("for-angus".equals(m.getSubject())) {
                    found = m;
                }
            }
            assertThat(found).isNotNull();
            assertThat(((String) found.getContent())).contains("line 0 of for-angus");
            found.setFlag(Flags.Flag.FLAGGED, true);
            inbox.close(false);
            assertThat(store.getDefaultFolder().list("*")).extracting(Folder::getFullName).contains("INBOX");
        } finally {
            store.close();
        }
    }
}
