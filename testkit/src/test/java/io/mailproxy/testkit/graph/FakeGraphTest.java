package io.mailproxy.testkit.graph;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mailproxy.testkit.FakeIdentityPlatform;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The fake Graph answers as Microsoft documents (each test names the page it checks). */
class FakeGraphTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String MAILBOX = "app@contoso.com";
    private static final String TOKEN = "test-token";
    private FakeGraph graph;
    private HttpClient http;

    @BeforeEach
    void setUp() {
        graph = FakeGraph.start();
        graph.acceptToken(TOKEN, "app-1", "Mail.Send", "Mail.ReadWrite");
        graph.mailbox(MAILBOX);
        http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .sslContext(graph.certificates().clientSslContext()).build();
    }

    @AfterEach
    void tearDown() {
        graph.close();
    }

    static byte[] mime(String headers, String body) {
        return (headers.replace("\n", "\r\n") + "\r\n" + body.replace("\n", "\r\n")).getBytes(StandardCharsets.ISO_8859_1);
    }

    private URI uri(String path) {
        return URI.create(graph.baseUrl() + "/users/" + MAILBOX + path);
    }

    private HttpRequest.Builder req(String path) {
        return HttpRequest.newBuilder(uri(path)).header("Authorization", "Bearer " + TOKEN);
    }

    private HttpResponse<String> send(HttpRequest r) throws Exception {
        return http.send(r, HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> postMime(String path, byte[] mime) throws Exception {
        return send(req(path).header("Content-Type", "text/plain")
                .POST(HttpRequest.BodyPublishers.ofString(Base64.getEncoder().encodeToString(mime))).build());
    }

    private HttpResponse<String> json(String method, String path, String body) throws Exception {
        return send(req(path).header("Content-Type", "application/json")
                .method(method, HttpRequest.BodyPublishers.ofString(body)).build());
    }

    private static JsonNode parse(HttpResponse<String> r) throws Exception {
        return JSON.readTree(r.body());
    }

    /** MGDC user-sendmail.md: 202, empty body; recipients from To/Cc/Bcc headers; a copy in Sent Items. */
    @Test
    void sendMailAcceptsBase64MimeAndSendsToEveryHeaderRecipient() throws Exception {
        byte[] m = mime("From: app@contoso.com\nTo: Team: a@x.example, \"=?UTF-8?Q?J=C3=BCrgen?=\" <b@x.example>;\n"
                + "Cc: c@x.example\nBcc: d@x.example\nSubject: hi\nMessage-ID: <1@x>\n", "body\n");
        HttpResponse<String> r = postMime("/sendMail", m);

        assertThat(r.statusCode()).isEqualTo(202);
        assertThat(r.body()).isEmpty();
        assertThat(r.headers().firstValue("request-id")).isPresent();
        SentMessage sent = graph.mailbox(MAILBOX).sent().get(0);
        assertThat(sent.mime()).isEqualTo(m);
        assertThat(sent.to()).containsExactly("a@x.example", "b@x.example");
        assertThat(sent.recipients()).containsExactly("a@x.example", "b@x.example", "c@x.example", "d@x.example");
        assertThat(graph.mailbox(MAILBOX).messages("sentitems")).hasSize(1);
        assertThat(graph.requests()).extracting(GraphRequest::status).containsExactly(202);
    }

    /** user-sendmail.md example 4; concepts/errors.md for the body shape. */
    @Test
    void invalidBase64IsErrorMimeContentInvalidBase64String() throws Exception {
        HttpResponse<String> r = send(req("/sendMail").header("Content-Type", "text/plain")
                .header("client-request-id", "c-1").POST(HttpRequest.BodyPublishers.ofString("not base64!")).build());

        assertThat(r.statusCode()).isEqualTo(400);
        JsonNode error = parse(r).get("error");
        assertThat(error.get("code").asText()).isEqualTo("ErrorMimeContentInvalidBase64String");
        assertThat(error.get("message").asText()).isEqualTo("Invalid base64 string for MIME content.");
        assertThat(error.at("/innerError/client-request-id").asText()).isEqualTo("c-1");
        assertThat(error.at("/innerError/request-id").asText()).isEqualTo(r.headers().firstValue("request-id").get());
        assertThat(error.at("/innerError/date").asText()).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d");
    }

    @Test
    void aRequestOver4MbIs413() throws Exception {
        byte[] big = new byte[3_200_000];
        Arrays.fill(big, (byte) 'a');
        HttpResponse<String> r = postMime("/sendMail", mime("To: a@x.example\n", new String(big, StandardCharsets.US_ASCII)));

        assertThat(r.statusCode()).isEqualTo(413);
        assertThat(graph.mailbox(MAILBOX).sent()).isEmpty();
    }

    @Test
    void tokensAreCheckedForPresencePermissionAndMailboxScope() throws Exception {
        graph.acceptToken("read-only", "app-2", "Mail.Read");
        graph.acceptToken("scoped", "app-3", "Mail.Send");
        graph.restrictApplication("app-3", "other@contoso.com");
        byte[] m = mime("To: a@x.example\n", "x\n");
        String b64 = Base64.getEncoder().encodeToString(m);

        HttpResponse<String> none = send(HttpRequest.newBuilder(uri("/sendMail")).header("Content-Type", "text/plain")
                .POST(HttpRequest.BodyPublishers.ofString(b64)).build());
        HttpResponse<String> readOnly = send(HttpRequest.newBuilder(uri("/sendMail")).header("Content-Type", "text/plain")
                .header("Authorization", "Bearer read-only").POST(HttpRequest.BodyPublishers.ofString(b64)).build());
        HttpResponse<String> scoped = send(HttpRequest.newBuilder(uri("/sendMail")).header("Content-Type", "text/plain")
                .header("Authorization", "Bearer scoped").POST(HttpRequest.BodyPublishers.ofString(b64)).build());

        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(parse(none).at("/error/code").asText()).isEqualTo("InvalidAuthenticationToken");
        assertThat(readOnly.statusCode()).isEqualTo(403);
        assertThat(parse(readOnly).at("/error/message").asText()).isEqualTo("Access is denied. Check credentials and try again.");
        assertThat(scoped.statusCode()).isEqualTo(403);
        assertThat(parse(scoped).at("/error/code").asText()).isEqualTo("ErrorAccessDenied");
        assertThat(graph.mailbox(MAILBOX).sent()).isEmpty();
    }

    @Test
    void identityPlatformTokensCarryTheAppsGrantedPermissions() throws Exception {
        try (FakeIdentityPlatform idp = FakeIdentityPlatform.start(); FakeGraph g = FakeGraph.start(idp)) {
            idp.registerClient("app", "secret");
            g.grantApplication("app", "Mail.Send");
            g.mailbox(MAILBOX);
            HttpResponse<String> t = http.send(HttpRequest.newBuilder(idp.tokenEndpoint("contoso"))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(HttpRequest.BodyPublishers.ofString("grant_type=client_credentials&client_id=app"
                            + "&client_secret=secret&scope="
                            + URLEncoder.encode("https://graph.microsoft.com/.default", StandardCharsets.UTF_8)))
                    .build(), HttpResponse.BodyHandlers.ofString());
            String token = parse(t).get("access_token").asText();
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(g.baseUrl() + "/users/" + MAILBOX + "/sendMail"))
                    .header("Authorization", "Bearer " + token).header("Content-Type", "text/plain");

            HttpResponse<String> sent = send(b.copy().POST(HttpRequest.BodyPublishers.ofString(
                    Base64.getEncoder().encodeToString(mime("To: a@x.example\n", "x\n")))).build());
            HttpResponse<String> draft = send(HttpRequest.newBuilder(URI.create(g.baseUrl() + "/users/" + MAILBOX
                    + "/messages")).header("Authorization", "Bearer " + token).header("Content-Type", "text/plain")
                    .POST(HttpRequest.BodyPublishers.ofString(Base64.getEncoder().encodeToString(
                            mime("To: a@x.example\n", "x\n")))).build());

            assertThat(sent.statusCode()).isEqualTo(202);
            assertThat(draft.statusCode()).isEqualTo(403); // Mail.ReadWrite was not granted
            assertThat(g.requests().get(0).appId()).isEqualTo("app");
        }
    }

    /** user-post-messages.md (201, isDraft), message-update.md (PATCH bcc → 200), message-send.md (202). */
    @Test
    void aMimeDraftGainsABccAndIsSent() throws Exception {
        HttpResponse<String> created = send(req("/messages").header("Content-Type", "text/plain")
                .header("Prefer", "IdType=\"ImmutableId\"").POST(HttpRequest.BodyPublishers.ofString(
                        Base64.getEncoder().encodeToString(mime("To: a@x.example\nSubject: s\n", "x\n")))).build());
        assertThat(created.statusCode()).isEqualTo(201);
        assertThat(created.headers().firstValue("Preference-Applied")).contains("IdType=\"ImmutableId\"");
        JsonNode draft = parse(created);
        String id = draft.get("id").asText();
        assertThat(id).hasSizeGreaterThan(140).matches("[A-Za-z0-9_=-]+");
        assertThat(draft.get("isDraft").asBoolean()).isTrue();
        assertThat(graph.mailbox(MAILBOX).drafts()).hasSize(1);

        HttpResponse<String> patched = json("PATCH", "/messages/" + id,
                "{\"bccRecipients\":[{\"emailAddress\":{\"address\":\"hidden@x.example\"}}]}");
        assertThat(patched.statusCode()).isEqualTo(200);
        assertThat(parse(patched).at("/bccRecipients/0/emailAddress/address").asText()).isEqualTo("hidden@x.example");

        HttpResponse<String> sent = send(req("/messages/" + id + "/send").POST(HttpRequest.BodyPublishers.noBody()).build());
        assertThat(sent.statusCode()).isEqualTo(202);
        SentMessage s = graph.mailbox(MAILBOX).sent().get(0);
        assertThat(s.viaDraft()).isTrue();
        assertThat(s.to()).containsExactly("a@x.example");
        assertThat(s.bcc()).containsExactly("hidden@x.example");
        assertThat(graph.mailbox(MAILBOX).drafts()).isEmpty();
        assertThat(graph.mailbox(MAILBOX).messages("sentitems")).hasSize(1);

        HttpResponse<String> gone = send(req("/messages/" + id).GET().build());
        assertThat(gone.statusCode()).isEqualTo(404);
        assertThat(parse(gone).at("/error/code").asText()).isEqualTo("ErrorItemNotFound");
    }

    /** attachment-createuploadsession.md, outlook-large-attachments.md. */
    @Test
    void anUploadSessionTakesChunksAndAttachesTheFile() throws Exception {
        String id = parse(postMime("/messages", mime("To: a@x.example\n", "x\n"))).get("id").asText();
        byte[] file = new byte[3 * 1024 * 1024 + 12345];
        new java.util.Random(7).nextBytes(file);
        HttpResponse<String> session = json("POST", "/messages/" + id + "/attachments/createUploadSession",
                "{\"AttachmentItem\":{\"attachmentType\":\"file\",\"name\":\"big.bin\",\"size\":" + file.length
                        + ",\"contentType\":\"application/octet-stream\",\"isInline\":false}}");
        assertThat(session.statusCode()).isEqualTo(201);
        JsonNode s = parse(session);
        assertThat(s.get("nextExpectedRanges").get(0).asText()).isEqualTo("0-");
        URI upload = URI.create(s.get("uploadUrl").asText());
        assertThat(upload.getScheme()).isEqualTo("https");

        HttpResponse<String> withAuth = send(HttpRequest.newBuilder(upload).header("Authorization", "Bearer " + TOKEN)
                .header("Content-Range", "bytes 0-9/" + file.length)
                .PUT(HttpRequest.BodyPublishers.ofByteArray(file, 0, 10)).build());
        assertThat(withAuth.statusCode()).isEqualTo(401);

        int chunk = 4 * 320 * 1024;
        List<Integer> statuses = new ArrayList<>();
        HttpResponse<String> last = null;
        for (int start = 0; start < file.length; start += chunk) {
            int end = Math.min(start + chunk, file.length) - 1;
            last = send(HttpRequest.newBuilder(upload).header("Content-Range",
                    "bytes " + start + "-" + end + "/" + file.length)
                    .PUT(HttpRequest.BodyPublishers.ofByteArray(file, start, end - start + 1)).build());
            statuses.add(last.statusCode());
            if (end + 1 < file.length) {
                assertThat(parse(last).get("nextExpectedRanges").get(0).asText()).isEqualTo(Integer.toString(end + 1));
            }
        }
        assertThat(statuses).containsExactly(200, 200, 201);
        assertThat(last.headers().firstValue("Location")).hasValueSatisfying(l -> assertThat(l).contains("Attachments('"));
        StoredAttachment a = graph.mailbox(MAILBOX).message(id).orElseThrow().attachments().get(0);
        assertThat(a.size()).isEqualTo(file.length);
        assertThat(a.sha256()).isEqualTo(MessageDigest.getInstance("SHA-256").digest(file));
        assertThat(graph.requests().stream().filter(r -> r.path().startsWith("/upload/")))
                .allSatisfy(r -> assertThat(r.mailbox()).isEqualTo(MAILBOX));
    }

    @Test
    void anUploadSessionRefusesAFileUnder3Mb() throws Exception {
        String id = parse(postMime("/messages", mime("To: a@x.example\n", "x\n"))).get("id").asText();
        HttpResponse<String> r = json("POST", "/messages/" + id + "/attachments/createUploadSession",
                "{\"AttachmentItem\":{\"attachmentType\":\"file\",\"name\":\"s\",\"size\":1000}}");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(parse(r).at("/error/code").asText()).isEqualTo("ErrorAttachmentSizeShouldNotBeLessThanMinimumSize");
    }

    /** user-list-messages.md: $top, $orderby, $filter, @odata.nextLink; PidTagMessageSize via $expand. */
    @Test
    void aFolderIsListedInPagesOldestFirst() throws Exception {
        GraphMailbox mb = graph.mailbox(MAILBOX);
        List<String> unread = new ArrayList<>();
        for (int i = 0; i < 25; i++) {
            GraphMessage m = mb.deliver(mime("Subject: " + i + "\n", "x\n"), i % 5 == 0, "inbox");
            if (i % 5 != 0) {
                unread.add(m.id());
            }
        }
        String query = "?$select=id,receivedDateTime,isRead&$top=7&$orderby=receivedDateTime%20asc"
                + "&$filter=receivedDateTime%20ge%201900-01-01T00:00:00Z%20and%20isRead%20eq%20false"
                + "&$expand=singleValueExtendedProperties($filter=id%20eq%20'Integer%200x0E08')";
        URI next = uri("/mailFolders/inbox/messages" + query);
        List<String> seen = new ArrayList<>();
        int pages = 0;
        while (next != null) {
            HttpResponse<String> r = send(HttpRequest.newBuilder(next).header("Authorization", "Bearer " + TOKEN).GET().build());
            assertThat(r.statusCode()).isEqualTo(200);
            JsonNode page = parse(r);
            for (JsonNode m : page.get("value")) {
                seen.add(m.get("id").asText());
                assertThat(m.has("subject")).isFalse();
                String size = m.at("/singleValueExtendedProperties/0/value").asText();
                assertThat(Long.parseLong(size)).isNotEqualTo(mb.message(m.get("id").asText()).orElseThrow().mimeLength());
            }
            next = page.has("@odata.nextLink") ? URI.create(page.get("@odata.nextLink").asText()) : null;
            pages++;
        }
        assertThat(seen).containsExactlyElementsOf(unread);
        assertThat(pages).isEqualTo(3);
    }

    /** user-list-messages.md: the ordered-by property must come first in $filter, else 400 InefficientFilter. */
    @Test
    void filterWithoutTheOrderedPropertyFirstIsInefficientFilter() throws Exception {
        HttpResponse<String> r = send(req("/mailFolders/inbox/messages?$filter=isRead%20eq%20false&$orderby=receivedDateTime")
                .GET().build());
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(parse(r).at("/error/code").asText()).isEqualTo("InefficientFilter");
        assertThat(parse(r).at("/error/message").asText())
                .isEqualTo("The restriction or sort order is too complex for this operation.");
        HttpResponse<String> alone = send(req("/mailFolders/inbox/messages?$filter=isRead%20eq%20false").GET().build());
        assertThat(alone.statusCode()).isEqualTo(200);
    }

    /** throttling-limits.md, Outlook service limits: 4 concurrent requests per app and mailbox. */
    @Test
    void theFifthConcurrentRequestIsThrottled() throws Exception {
        graph.mailbox(MAILBOX).deliver(mime("Subject: a\n", "x\n"));
        FakeGraph.Hold hold = graph.hold();
        List<CompletableFuture<HttpResponse<String>>> inFlight = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            inFlight.add(http.sendAsync(req("/mailFolders/inbox/messages").GET().build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        assertThat(hold.awaitHeld(4, 10, TimeUnit.SECONDS)).isTrue();

        HttpResponse<String> fifth = send(req("/mailFolders/inbox/messages").GET().build());
        hold.release();

        assertThat(fifth.statusCode()).isEqualTo(429);
        assertThat(fifth.headers().firstValue("Retry-After")).contains("1");
        assertThat(parse(fifth).at("/error/code").asText()).isEqualTo("ApplicationThrottled");
        assertThat(parse(fifth).at("/error/message").asText()).contains("MailboxConcurrency");
        for (CompletableFuture<HttpResponse<String>> f : inFlight) {
            assertThat(f.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        }
        assertThat(graph.mailbox(MAILBOX).concurrencyHighWater()).isEqualTo(4);
    }

    @Test
    void valueStreamsTheMimeAndADropCutsItShort() throws Exception {
        byte[] body = new byte[200_000];
        Arrays.fill(body, (byte) 'b');
        byte[] m = mime("Subject: big\n", new String(body, StandardCharsets.US_ASCII));
        String id = graph.mailbox(MAILBOX).deliver(m).id();

        HttpResponse<byte[]> r = http.send(req("/messages/" + id + "/$value").GET().build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo(m);

        graph.dropNextDownloadAfter(50_000);
        try {
            HttpResponse<byte[]> cut = http.send(req("/messages/" + id + "/$value").GET().build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertThat(cut.body().length).isLessThan(m.length); // never a complete body
        } catch (java.io.IOException expected) {
            // the connection closed mid-body
        }
    }

    /** message-move.md (201, immutable id kept), message-delete.md (204), message-update.md (isRead). */
    @Test
    void moveKeepsTheIdAndDeleteIsSoft() throws Exception {
        GraphMailbox mb = graph.mailbox(MAILBOX);
        String id = mb.deliver(mime("Subject: a\n", "x\n")).id();
        assertThat(json("PATCH", "/messages/" + id, "{\"isRead\":true}").statusCode()).isEqualTo(200);
        HttpResponse<String> moved = json("POST", "/messages/" + id + "/move", "{\"destinationId\":\"archive\"}");
        assertThat(moved.statusCode()).isEqualTo(201);
        assertThat(parse(moved).get("id").asText()).isEqualTo(id);
        assertThat(mb.messages("archive")).extracting(GraphMessage::id).containsExactly(id);
        assertThat(mb.messages("archive").get(0).read()).isTrue();

        assertThat(send(req("/messages/" + id).DELETE().build()).statusCode()).isEqualTo(204);
        assertThat(mb.messages("deleteditems")).isEmpty();
        assertThat(mb.recoverableItems()).extracting(GraphMessage::id).containsExactly(id);
        assertThat(send(req("/messages/" + id).GET().build()).statusCode()).isEqualTo(404);
    }

    @Test
    void faultsAnswerTheNextRequestsThenStop() throws Exception {
        graph.failNext("POST", "/sendMail", 2, GraphFault.throttled(7));
        byte[] m = mime("To: a@x.example\n", "x\n");
        HttpResponse<String> first = postMime("/sendMail", m);
        HttpResponse<String> second = postMime("/sendMail", m);
        HttpResponse<String> third = postMime("/sendMail", m);

        assertThat(first.statusCode()).isEqualTo(429);
        assertThat(first.headers().firstValue("Retry-After")).contains("7");
        assertThat(second.statusCode()).isEqualTo(429);
        assertThat(third.statusCode()).isEqualTo(202);
        assertThat(graph.mailbox(MAILBOX).sent()).hasSize(1);
    }

    @Test
    void foldersResolveByDisplayName() throws Exception {
        GraphMailbox mb = graph.mailbox(MAILBOX);
        String id = mb.folder("Projects/2026");
        mb.deliver(mime("Subject: p\n", "x\n"), false, "Projects/2026");
        JsonNode top = parse(send(req("/mailFolders?$filter=displayName%20eq%20'Projects'").GET().build()));
        String projects = top.at("/value/0/id").asText();
        JsonNode child = parse(send(req("/mailFolders/" + projects + "/childFolders?$filter=displayName%20eq%20'2026'")
                .GET().build()));
        assertThat(child.at("/value/0/id").asText()).isEqualTo(id);
        JsonNode list = parse(send(req("/mailFolders/" + id + "/messages").GET().build()));
        assertThat(list.get("value")).hasSize(1);
        Set<String> wellKnown = new HashSet<>();
        for (String name : List.of("inbox", "drafts", "sentitems", "deleteditems", "archive")) {
            HttpResponse<String> r = send(req("/mailFolders/" + name).GET().build());
            assertThat(r.statusCode()).isEqualTo(200);
            wellKnown.add(parse(r).get("id").asText());
        }
        assertThat(wellKnown).hasSize(5);
    }
}
