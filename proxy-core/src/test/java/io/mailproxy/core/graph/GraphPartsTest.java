package io.mailproxy.core.graph;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.credentials.GraphScopes;
import io.mailproxy.core.credentials.Scheduler;
import io.mailproxy.core.graph.GraphException.Kind;
import io.mailproxy.testkit.ManualScheduler;
import io.mailproxy.testkit.MutableClock;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** The Graph client's parts that need no server: error kinds, Retry-After, base64 streaming, the gate, scopes. */
class GraphPartsTest {

    private final MutableClock clock = new MutableClock(Instant.parse("2026-11-25T20:00:00Z"));

    @Test
    void errorKindsFollowTheCodeFirstAndTheStatusSecond() {
        assertThat(GraphErrors.kind(400, "ErrorQuotaExceeded")).isEqualTo(Kind.QUOTA);
        assertThat(GraphErrors.kind(429, "ErrorSubmissionQuotaExceeded")).isEqualTo(Kind.QUOTA);
        assertThat(GraphErrors.kind(429, "ApplicationThrottled")).isEqualTo(Kind.THROTTLED);
        assertThat(GraphErrors.kind(503, "")).isEqualTo(Kind.THROTTLED);
        assertThat(GraphErrors.kind(504, "")).isEqualTo(Kind.THROTTLED);
        assertThat(GraphErrors.kind(502, "")).isEqualTo(Kind.THROTTLED);
        assertThat(GraphErrors.kind(404, "ErrorItemNotFound")).isEqualTo(Kind.NOT_FOUND);
        assertThat(GraphErrors.kind(404, "MailboxNotEnabledForRESTAPI")).isEqualTo(Kind.NOT_AUTHORISED);
        assertThat(GraphErrors.kind(404, "ErrorInvalidUser")).isEqualTo(Kind.NOT_AUTHORISED);
        assertThat(GraphErrors.kind(403, "ErrorAccessDenied")).isEqualTo(Kind.NOT_AUTHORISED);
        assertThat(GraphErrors.kind(401, "InvalidAuthenticationToken")).isEqualTo(Kind.NOT_AUTHORISED);
        assertThat(GraphErrors.kind(400, "ErrorMessageSizeExceeded")).isEqualTo(Kind.REJECTED);
        assertThat(GraphErrors.kind(400, "ErrorInvalidRecipients")).isEqualTo(Kind.REJECTED);
        assertThat(GraphErrors.kind(413, "")).isEqualTo(Kind.REJECTED);
        assertThat(GraphErrors.kind(500, "ErrorCannotDeleteObject")).isEqualTo(Kind.SERVER);
    }

    @Test
    void a403NamesThePermissionTheCallNeedsAndTheMailboxScoping() {
        GraphErrors.Body body = GraphErrors.Body.parse(
                "{\"error\":{\"code\":\"ErrorAccessDenied\",\"message\":\"Access is denied. Check credentials and try"
                        + " again.\",\"innerError\":{\"request-id\":\"r\"}}}");
        GraphException send = GraphErrors.exception(GraphOperation.SEND_MAIL, "a@contoso.com", 403, body,
                Optional.empty());
        assertThat(send.kind()).isEqualTo(Kind.NOT_AUTHORISED);
        assertThat(send.code()).isEqualTo("ErrorAccessDenied");
        assertThat(send.getMessage()).contains("Mail.Send permission").contains("RBAC for Applications")
                .contains("application access policy").contains("Access is denied");
        GraphException draft = GraphErrors.exception(GraphOperation.CREATE_DRAFT, "a@contoso.com", 403, body,
                Optional.empty());
        assertThat(draft.getMessage()).contains("Mail.ReadWrite permission");
    }

    @Test
    void anErrorBodyThatIsNotJsonStillGivesAKind() {
        GraphErrors.Body body = GraphErrors.Body.parse("<html>bad gateway</html>");
        assertThat(body.code()).isEmpty();
        assertThat(GraphErrors.exception(GraphOperation.LIST, "a@b", 502, body, Optional.empty()).kind())
                .isEqualTo(Kind.THROTTLED);
    }

    @Test
    void retryAfterIsSecondsOrAnHttpDate() {
        assertThat(GraphErrors.retryAfter(Optional.of("7"), clock)).contains(Duration.ofSeconds(7));
        assertThat(GraphErrors.retryAfter(Optional.of("Wed, 25 Nov 2026 20:00:30 GMT"), clock))
                .contains(Duration.ofSeconds(30));
        assertThat(GraphErrors.retryAfter(Optional.of("Wed, 25 Nov 2026 19:00:00 GMT"), clock))
                .contains(Duration.ZERO);
        assertThat(GraphErrors.retryAfter(Optional.of("soon"), clock)).isEmpty();
        assertThat(GraphErrors.retryAfter(Optional.empty(), clock)).isEmpty();
    }

    @Test
    void base64StreamsEqualTheJdkEncodingForEveryLengthAroundABlock() throws Exception {
        Random random = new Random(16);
        for (int n : new int[] {0, 1, 2, 3, 4, 12287, 12288, 12289, 12290, 100_000}) {
            byte[] data = new byte[n];
            random.nextBytes(data);
            InputStream in = new GraphBodies.Base64InputStream(new ByteArrayInputStream(data));
            byte[] out = in.readAllBytes();
            assertThat(new String(out, java.nio.charset.StandardCharsets.US_ASCII))
                    .as("length %d", n).isEqualTo(Base64.getEncoder().encodeToString(data));
            assertThat((long) out.length).isEqualTo(GraphBodies.base64Length(n));
        }
    }

    @Test
    void theGateLetsFourThroughQueuesTheRestInOrderAndRefusesBeyondTheQueue() {
        ManualScheduler timers = new ManualScheduler(clock);
        MailboxGate gate = new MailboxGate("a@contoso.com", clock, Scheduler.of(timers), Runnable::run);
        List<CompletableFuture<Runnable>> permits = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            permits.add(gate.acquire(4, 2));
        }
        assertThat(permits.subList(0, 4)).allMatch(CompletableFuture::isDone);
        assertThat(permits.get(4)).isNotDone();
        assertThat(permits.get(5)).isNotDone();
        assertThat(permits.get(6)).isCompletedExceptionally();
        assertThat(gate.inFlight()).isEqualTo(4);
        permits.get(0).join().run();
        permits.get(0).join().run(); // twice: counted once
        assertThat(permits.get(4)).isDone();
        assertThat(permits.get(5)).isNotDone();
        assertThat(gate.inFlight()).isEqualTo(4);
    }

    @Test
    void aRetryAfterHoldsEveryRequestToTheMailboxUntilItPasses() {
        ManualScheduler timers = new ManualScheduler(clock);
        MailboxGate gate = new MailboxGate("a@contoso.com", clock, Scheduler.of(timers), Runnable::run);
        gate.hold(Duration.ofSeconds(5));
        CompletableFuture<Runnable> waiting = gate.acquire(4, 10);
        assertThat(waiting).isNotDone();
        timers.advance(Duration.ofSeconds(4));
        assertThat(waiting).isNotDone();
        timers.advance(Duration.ofSeconds(1));
        assertThat(waiting).isDone();
    }

    @Test
    void graphScopesComeFromTheProvidersListsForTheGrantAndTheDelegate() {
        AccountConfig own = new AccountConfig("a@x.us", "a@x.us", "g", new AuthConfig.OAuth2("p",
                AuthConfig.Grant.REFRESH_TOKEN, Optional.empty(), Optional.empty(), Optional.empty()), "a@x.us", Map.of());
        AccountConfig shared = new AccountConfig("s@x.us", "s@x.us", "g", new AuthConfig.OAuth2("p",
                AuthConfig.Grant.REFRESH_TOKEN, Optional.of("it@x.us"), Optional.empty(), Optional.empty()), "s@x.us",
                Map.of());
        AccountConfig app = new AccountConfig("b@x.us", "b@x.us", "g", new AuthConfig.OAuth2("p",
                AuthConfig.Grant.CLIENT_CREDENTIALS, Optional.empty(), Optional.empty(), Optional.empty()), "b@x.us",
                Map.of());
        URI token = URI.create("https://login.microsoftonline.us/t/oauth2/v2.0/token");
        io.mailproxy.core.config.OAuth2ProviderConfig provider = new io.mailproxy.core.config.OAuth2ProviderConfig(
                "p", Optional.of("t"), token, token, token, "app", Optional.empty(), Optional.empty(), Optional.empty(),
                Optional.empty(), List.of(), List.of(), List.of(), List.of(), Optional.empty(),
                List.of("https://graph.microsoft.us/Mail.Send", "https://graph.microsoft.us/Mail.ReadWrite",
                        "offline_access"),
                List.of("https://graph.microsoft.us/Mail.Send.Shared", "https://graph.microsoft.us/Mail.ReadWrite.Shared",
                        "offline_access"),
                List.of("https://graph.microsoft.us/.default"));
        assertThat(GraphScopes.forAccount(provider, app, (AuthConfig.OAuth2) app.auth()))
                .containsExactly("https://graph.microsoft.us/.default");
        assertThat(GraphScopes.forAccount(provider, own, (AuthConfig.OAuth2) own.auth())).containsExactly(
                "https://graph.microsoft.us/Mail.Send", "https://graph.microsoft.us/Mail.ReadWrite", "offline_access");
        assertThat(GraphScopes.forAccount(provider, shared, (AuthConfig.OAuth2) shared.auth())).containsExactly(
                "https://graph.microsoft.us/Mail.Send.Shared", "https://graph.microsoft.us/Mail.ReadWrite.Shared",
                "offline_access");
    }

    @Test
    void uploadResumesFromTheFirstExpectedRange() throws Exception {
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        assertThat(GraphUpload.next(json.readTree("{\"nextExpectedRanges\":[\"2097152-\"]}"), 0)).isEqualTo(2097152);
        assertThat(GraphUpload.next(json.readTree("{\"nextExpectedRanges\":[\"4096\"]}"), 0)).isEqualTo(4096);
        assertThat(GraphUpload.next(json.readTree("{}"), 77)).isEqualTo(77);
    }

    @Test
    void defaultsFitGraphsFourMegabyteRequest() {
        GraphSettings d = GraphSettings.DEFAULTS;
        assertThat(GraphBodies.base64Length(d.maxMimeRequestBytes()) + 16 * 1024).isLessThanOrEqualTo(4_000_000);
        assertThat(d.uploadChunkBytes() % (320 * 1024)).isZero();
        assertThat(d.uploadChunkBytes()).isLessThan(4_000_000);
        assertThat(d.concurrency()).isEqualTo(4);
    }
}
