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
        // the client's default (HTTP/2 offered by ALPN): the fake answers HTTP/1.1, as a client must accept
        http = HttpClient.newBuilder()
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
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> http.send(req("/messages/" + id + "/$value").GET()
                .build(), HttpResponse.BodyHandlers.ofByteArray())).isInstanceOf(java.io.IOException.class);
        assertThat(http.send(req("/messages/" + id + "/$value").GET().build(), HttpResponse.BodyHandlers.ofByteArray())
                .body()).isEqualTo(m);
    }

    @Test
    void expiredForeignAndDelegatedTokensAreCheckedAsGraphDoes() throws Exception {
        java.time.Instant[] now = {java.time.Instant.parse("2026-12-01T10:00:00Z")};
        java.time.Clock clock = new java.time.Clock() {
            @Override
            public java.time.ZoneId getZone() {
                return java.time.ZoneOffset.UTC;
            }

            @Override
            public java.time.Clock withZone(java.time.ZoneId zone) {
                return this;
            }

            @Override
            public java.time.Instant instant() {
                return now[0];
            }
        };
        try (FakeIdentityPlatform idp = FakeIdentityPlatform.start().clock(clock);
             FakeGraph g = FakeGraph.start(idp)) {
            idp.registerPublicClient("pub").addUser("u@contoso.com", "pw").addUser("v@contoso.com", "pw");
            g.mailbox("u@contoso.com");
            g.mailbox("shared@contoso.com");
            String graphToken = ropc(idp, "u@contoso.com", "https://graph.microsoft.com/Mail.ReadWrite Mail.Send");
            String sharedToken = ropc(idp, "v@contoso.com", "Mail.ReadWrite.Shared");
            String imapToken = ropc(idp, "u@contoso.com", "https://outlook.office.com/IMAP.AccessAsUser.All");
            java.util.function.BiFunction<String, String, HttpResponse<String>> get = (token, mailbox) -> {
                try {
                    return send(HttpRequest.newBuilder(URI.create(g.baseUrl() + "/users/" + mailbox
                            + "/mailFolders/inbox/messages")).header("Authorization", "Bearer " + token).GET().build());
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            };

            assertThat(get.apply(graphToken, "u@contoso.com").statusCode()).isEqualTo(200);
            assertThat(get.apply(graphToken, "shared@contoso.com").statusCode()).isEqualTo(403);
            assertThat(get.apply(sharedToken, "shared@contoso.com").statusCode()).isEqualTo(403);
            g.mailbox("shared@contoso.com").grantFullAccess("v@contoso.com");
            assertThat(get.apply(sharedToken, "shared@contoso.com").statusCode()).isEqualTo(200);
            HttpResponse<String> imap = get.apply(imapToken, "u@contoso.com");
            assertThat(imap.statusCode()).isEqualTo(401);
            assertThat(parse(imap).at("/error/message").asText()).contains("Invalid audience");
            now[0] = now[0].plusSeconds(3600);
            HttpResponse<String> expired = get.apply(graphToken, "u@contoso.com");
            assertThat(expired.statusCode()).isEqualTo(401);
            assertThat(parse(expired).at("/error/code").asText()).isEqualTo("InvalidAuthenticationToken");
            assertThat(get.apply("unknown", "u@contoso.com").statusCode()).isEqualTo(401);
            assertThat(get.apply(graphToken.substring(0, 0) + "x", "nobody@contoso.com").statusCode()).isEqualTo(401);
        }
    }

    private String ropc(FakeIdentityPlatform idp, String user, String scope) throws Exception {
        HttpResponse<String> t = http.send(HttpRequest.newBuilder(idp.tokenEndpoint("contoso"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("grant_type=password&client_id=pub&username="
                        + URLEncoder.encode(user, StandardCharsets.UTF_8) + "&password=pw&scope="
                        + URLEncoder.encode(scope, StandardCharsets.UTF_8))).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(t.statusCode()).as(t.body()).isEqualTo(200);
        return parse(t).get("access_token").asText();
    }

    @Test
    void aMessageOverTheTenantLimitIsErrorMessageSizeExceeded() throws Exception {
        graph.maxMessageBytes(1000);
        byte[] body = new byte[2000];
        Arrays.fill(body, (byte) 'c');
        HttpResponse<String> r = postMime("/sendMail", mime("To: a@x.example\n", new String(body, StandardCharsets.US_ASCII)));
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(parse(r).at("/error/code").asText()).isEqualTo("ErrorMessageSizeExceeded");
    }

    @Test
    void unknownAndRestlessMailboxesAre404() throws Exception {
        graph.mailbox("onprem@contoso.com").disableRest();
        HttpResponse<String> unknown = send(HttpRequest.newBuilder(URI.create(graph.baseUrl()
                + "/users/nobody@contoso.com/mailFolders/inbox/messages")).header("Authorization", "Bearer " + TOKEN)
                .GET().build());
        HttpResponse<String> onprem = send(HttpRequest.newBuilder(URI.create(graph.baseUrl()
                + "/users/onprem@contoso.com/mailFolders/inbox/messages")).header("Authorization", "Bearer " + TOKEN)
                .GET().build());
        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(parse(unknown).at("/error/code").asText()).isEqualTo("ErrorInvalidUser");
        assertThat(onprem.statusCode()).isEqualTo(404);
        assertThat(parse(onprem).at("/error/code").asText()).isEqualTo("MailboxNotEnabledForRESTAPI");
    }

    @Test
    void aFaultCanDropTheConnection() throws Exception {
        graph.failNext(1, GraphFault.dropConnection());
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> postMime("/sendMail", mime("To: a@x.example\n", "x\n")))
                .isInstanceOf(java.io.IOException.class);
        assertThat(postMime("/sendMail", mime("To: a@x.example\n", "x\n")).statusCode()).isEqualTo(202);
        assertThat(graph.mailbox(MAILBOX).sent()).hasSize(1);
    }

    @Test
    void aLost202SendsAndThenDropsTheConnection() throws Exception {
        graph.failNext("POST", "/sendMail", 1, GraphFault.dropAfterProcessing());
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> postMime("/sendMail", mime("To: a@x.example\n", "x\n")))
                .isInstanceOf(java.io.IOException.class);
        assertThat(graph.mailbox(MAILBOX).sent()).as("processed before the drop").hasSize(1);
        assertThat(graph.requests()).extracting(GraphRequest::status).containsExactly(0);
        assertThat(postMime("/sendMail", mime("To: a@x.example\n", "x\n")).statusCode()).as("one request only")
                .isEqualTo(202);
        assertThat(graph.mailbox(MAILBOX).sent()).hasSize(2);
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

    /** throttling-limits.md, Outlook service limits: a request budget per app and mailbox in a window. */
    @Test
    void aSpentRequestBudgetThrottlesUntilTheWindowEnds() throws Exception {
        java.time.Instant[] now = {java.time.Instant.parse("2026-12-01T10:00:00Z")};
        graph.clock(new java.time.Clock() {
            @Override
            public java.time.ZoneId getZone() {
                return java.time.ZoneOffset.UTC;
            }

            @Override
            public java.time.Clock withZone(java.time.ZoneId zone) {
                return this;
            }

            @Override
            public java.time.Instant instant() {
                return now[0];
            }
        }).requestBudget(2, java.time.Duration.ofMinutes(10));
        List<Integer> statuses = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            statuses.add(send(req("/mailFolders/inbox/messages").GET().build()).statusCode());
        }
        HttpResponse<String> throttled = send(req("/mailFolders/inbox/messages").GET().build());
        now[0] = now[0].plus(java.time.Duration.ofMinutes(10));
        statuses.add(send(req("/mailFolders/inbox/messages").GET().build()).statusCode());

        assertThat(statuses).containsExactly(200, 200, 429, 200);
        assertThat(throttled.headers().firstValue("Retry-After")).contains("600");
    }

    @Test
    void aFaultWithoutInnerErrorAndAFileBackedMessage() throws Exception {
        java.nio.file.Path file = java.nio.file.Files.createTempFile("graph", ".eml");
        try {
            byte[] m = mime("Subject: file\n", "from a file\n");
            java.nio.file.Files.write(file, m);
            String id = graph.mailbox(MAILBOX).deliver(file, true, "inbox").id();
            graph.failNext(1, GraphFault.of(507, "ErrorQuotaExceeded", "Mailbox has exceeded maximum mailbox size.")
                    .withoutInnerError());

            HttpResponse<String> quota = send(req("/messages/" + id + "/$value").GET().build());
            HttpResponse<String> value = send(req("/messages/" + id + "/$value").GET().build());

            assertThat(quota.statusCode()).isEqualTo(507);
            assertThat(parse(quota).get("error").has("innerError")).isFalse();
            assertThat(parse(quota).at("/error/code").asText()).isEqualTo("ErrorQuotaExceeded");
            assertThat(value.body().getBytes(StandardCharsets.ISO_8859_1)).isEqualTo(m);
            assertThat(value.headers().firstValue("Content-Type")).contains("text/plain");
        } finally {
            java.nio.file.Files.deleteIfExists(file);
        }
    }

    /** message-post-attachments.md: a fileAttachment with contentBytes → 201. */
    @Test
    void aSmallAttachmentIsPostedInline() throws Exception {
        String id = parse(postMime("/messages", mime("To: a@x.example\n", "x\n"))).get("id").asText();
        byte[] content = "hello attachment".getBytes(StandardCharsets.US_ASCII);
        HttpResponse<String> r = json("POST", "/messages/" + id + "/attachments",
                "{\"@odata.type\":\"#microsoft.graph.fileAttachment\",\"name\":\"a.txt\",\"contentType\":"
                        + "\"text/plain\",\"isInline\":true,\"contentId\":\"cid1\",\"contentBytes\":\""
                        + Base64.getEncoder().encodeToString(content) + "\"}");

        assertThat(r.statusCode()).isEqualTo(201);
        assertThat(parse(r).get("size").asLong()).isEqualTo(content.length);
        StoredAttachment a = graph.mailbox(MAILBOX).message(id).orElseThrow().attachments().get(0);
        assertThat(a.bytes()).hasValueSatisfying(b -> assertThat(b).isEqualTo(content));
        assertThat(a.contentId()).contains("cid1");
        assertThat(a.inline()).isTrue();
        assertThat(send(req("/messages/" + id + "/send").POST(HttpRequest.BodyPublishers.noBody()).build())
                .statusCode()).isEqualTo(202);
        assertThat(graph.mailbox(MAILBOX).sent().get(0).attachments()).extracting(StoredAttachment::name)
                .containsExactly("a.txt");
    }

    @Test
    void anEarlyAnswerToALargeUploadIsAnAnswerNotAReset() throws Exception {
        byte[] big = new byte[3_000_000];
        Arrays.fill(big, (byte) 'A');
        HttpResponse<String> r = send(HttpRequest.newBuilder(uri("/sendMail")).header("Content-Type", "text/plain")
                .POST(HttpRequest.BodyPublishers.ofByteArray(big)).build());
        assertThat(r.statusCode()).isEqualTo(401);
    }

    /** A large attachment keeps only its size and SHA-256; a chunk out of order is refused. */
    @Test
    void aLargeUploadKeepsOnlyItsHashAndRefusesAChunkOutOfOrder() throws Exception {
        graph.keepAttachmentBytesUpTo(1024 * 1024);
        String id = parse(postMime("/messages", mime("To: a@x.example\n", "x\n"))).get("id").asText();
        int size = 20 * 1024 * 1024;
        URI upload = URI.create(parse(json("POST", "/messages/" + id + "/attachments/createUploadSession",
                "{\"AttachmentItem\":{\"attachmentType\":\"file\",\"name\":\"big\",\"size\":" + size + "}}"))
                .get("uploadUrl").asText());
        byte[] chunk = new byte[4 * 1024 * 1024];
        Arrays.fill(chunk, (byte) 7);
        HttpResponse<String> outOfOrder = send(HttpRequest.newBuilder(upload).header("Content-Range",
                "bytes " + chunk.length + "-" + (2 * chunk.length - 1) + "/" + size)
                .PUT(HttpRequest.BodyPublishers.ofByteArray(chunk)).build());
        assertThat(outOfOrder.statusCode()).isEqualTo(416);
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (int start = 0; start < size; start += chunk.length) {
            HttpResponse<String> r = send(HttpRequest.newBuilder(upload).header("Content-Range",
                    "bytes " + start + "-" + (start + chunk.length - 1) + "/" + size)
                    .PUT(HttpRequest.BodyPublishers.ofByteArray(chunk)).build());
            assertThat(r.statusCode()).isEqualTo(start + chunk.length < size ? 200 : 201);
            sha.update(chunk);
        }
        StoredAttachment a = graph.mailbox(MAILBOX).message(id).orElseThrow().attachments().get(0);
        assertThat(a.bytes()).isEmpty();
        assertThat(a.size()).isEqualTo(size);
        assertThat(a.sha256()).isEqualTo(sha.digest());
        assertThat(a.uploadSession()).isTrue();
    }
}
