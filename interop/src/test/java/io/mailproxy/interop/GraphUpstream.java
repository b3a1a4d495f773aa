package io.mailproxy.interop;

import io.mailproxy.testkit.graph.FakeGraph;
import io.mailproxy.testkit.graph.GraphMailbox;
import java.net.URI;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Microsoft Graph as the upstream, for {@link GraphIT}: testkit's {@link FakeGraph} (HTTPS on loopback, its own CA),
 * taking the app-only tokens that {@link IdentityStub#platform} issues to the suite's OAuth client, which is granted
 * Mail.Send and Mail.ReadWrite. A second app, {@link #SCOPED_APP}, has the same permissions but an application access
 * policy that leaves its mailbox out (403 ErrorAccessDenied).
 *
 * <p>In the proxy: upstream {@code graph} ({@code graph} = the fake's base URL, {@code send-with = graph},
 * {@code ca-file} = the fake's CA), one account per mailbox below (OAuth 2.0 client credentials), and one client per
 * check: {@link #clients()}. None of these mailboxes is a Dovecot user.
 */
final class GraphUpstream implements AutoCloseable {

    static final String UPSTREAM = "graph";
    /** Sends: swaks and smtplib through Graph's sendMail, drafts and upload sessions. */
    static final String SEND = "graph-send@" + Interop.DOMAIN;
    /** Its app's access policy covers another mailbox only: every call is 403 ErrorAccessDenied. */
    static final String DENIED = "graph-denied@" + Interop.DOMAIN;
    /** POP3 from the Inbox, one mailbox per client program. */
    static final String FETCHMAIL = "graph-fetchmail@" + Interop.DOMAIN;
    static final String POPLIB = "graph-poplib@" + Interop.DOMAIN;
    static final String GETMAIL = "graph-getmail@" + Interop.DOMAIN;

    /** SMTP pass-through (250 after Graph's 202) on {@link #SEND}. */
    static final String SEND_CLIENT = "graph-send";
    /** SMTP with {@code queue = true} (250 once spooled) on {@link #SEND}. */
    static final String QUEUE_CLIENT = "graph-queue";
    static final String DENIED_CLIENT = "graph-denied";
    /** POP3 from Graph's inbox, {@code on-delete = keep}. */
    static final String FETCHMAIL_CLIENT = "graph-fetchmail";
    /** POP3 from Graph's inbox, {@code on-delete = "move:\\Trash"} (Graph's deleteditems). */
    static final String POPLIB_CLIENT = "graph-poplib";
    /** POP3 from Graph's inbox, {@code on-delete = expunge} (Graph's soft delete: Recoverable Items). */
    static final String GETMAIL_CLIENT = "graph-getmail";

    static final String SCOPED_APP = "interop-graph-scoped";

    final FakeGraph fake;
    private final IdentityStub identity;
    private final String scopedSecret = "graph-scoped-secret-" + Long.toHexString(new SecureRandom().nextLong());

    GraphUpstream(IdentityStub identity) {
        this.identity = identity;
        identity.platform.registerClient(SCOPED_APP, scopedSecret);
        fake = FakeGraph.start(identity.platform);
        // the proxy asks for <scheme>://<host:port of upstreams.graph.graph>/.default (GraphScopes.audience)
        URI base = fake.baseUrl();
        fake.acceptAudience(base.getScheme() + "://" + base.getRawAuthority());
        fake.grantApplication(identity.clientId, "Mail.Send", "Mail.ReadWrite");
        fake.grantApplication(SCOPED_APP, "Mail.Send", "Mail.ReadWrite");
        fake.restrictApplication(SCOPED_APP, "someone-else@" + Interop.DOMAIN);
        for (String m : List.of(SEND, DENIED, FETCHMAIL, POPLIB, GETMAIL)) {
            fake.mailbox(m);
        }
    }

    GraphMailbox mailbox(String address) {
        return fake.mailbox(address);
    }

    /** Client name → (mailbox, HOCON of the client's settings besides account and password). */
    static Map<String, String[]> clients() {
        Map<String, String[]> c = new LinkedHashMap<>();
        c.put(SEND_CLIENT, new String[] {SEND, "protocols = [smtp]"});
        c.put(QUEUE_CLIENT, new String[] {SEND, "protocols = [smtp], smtp { queue = true }"});
        c.put(DENIED_CLIENT, new String[] {DENIED, "protocols = [smtp]"});
        c.put(FETCHMAIL_CLIENT, new String[] {FETCHMAIL,
                "protocols = [pop3], pop3 { source = graph, folder = inbox, on-delete = keep }"});
        c.put(POPLIB_CLIENT, new String[] {POPLIB,
                "protocols = [pop3], pop3 { source = graph, folder = inbox, on-delete = \"move:\\\\Trash\" }"});
        c.put(GETMAIL_CLIENT, new String[] {GETMAIL,
                "protocols = [pop3], pop3 { source = graph, folder = INBOX, on-delete = expunge }"});
        return c;
    }

    /** The upstream and the scoped app's oauth2 provider, inside {@code mailproxy { }}. */
    void upstreamConfig(StringBuilder c) {
        c.append("  upstreams.").append(UPSTREAM).append(" {\n");
        c.append("    graph = ").append(q(fake.baseUrl().toString())).append('\n');
        c.append("    send-with = graph\n");
        c.append("    ca-file = ").append(q(fake.caPem().toString())).append('\n');
        c.append("    connect-timeout = 5s, handshake-timeout = 5s, reply-timeout = 20s\n");
        c.append("  }\n");
        c.append("  oauth2.graph-scoped {\n");
        c.append("    token-endpoint = ").append(q(identity.tokenEndpoint())).append('\n');
        c.append("    client-id = ").append(q(SCOPED_APP)).append('\n');
        c.append("    client-secret = ").append(q(scopedSecret)).append('\n');
        c.append("  }\n");
    }

    /** The accounts, inside {@code accounts { }}: app-only tokens of provider {@code fake} (or the scoped app). */
    void accountConfig(StringBuilder c) {
        for (String m : List.of(SEND, DENIED, FETCHMAIL, POPLIB, GETMAIL)) {
            c.append("    ").append(q(m)).append(" { upstream = ").append(UPSTREAM)
                    .append(", auth { type = oauth2, provider = ").append(m.equals(DENIED) ? "graph-scoped" : "fake")
                    .append(", grant = client-credentials }, pool.imap { min-idle = 0 } }\n");
        }
    }

    /** The clients, inside {@code clients { }}; {@code hash} makes the password hash of a secret. */
    void clientConfig(StringBuilder c, UnaryOperator<String> hash) {
        clients().forEach((client, v) -> c.append("    ").append(q(client)).append(" { account = ").append(q(v[0]))
                .append(", password = ").append(q(hash.apply(Proxy.secret(client)))).append(", ").append(v[1])
                .append(" }\n"));
    }

    /** Secrets that must never reach the log. */
    List<String> secrets() {
        List<String> s = new ArrayList<>();
        s.add(scopedSecret);
        for (String client : clients().keySet()) {
            s.add(Proxy.secret(client));
        }
        return s;
    }

    private static String q(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    @Override
    public void close() {
        fake.close();
    }
}
