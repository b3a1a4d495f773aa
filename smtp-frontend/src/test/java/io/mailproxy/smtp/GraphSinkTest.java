package io.mailproxy.smtp;

import static io.mailproxy.smtp.SmtpTestClient.expect;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mailproxy.core.config.UpstreamConfig;
import io.mailproxy.core.graph.GraphException.Kind;
import io.mailproxy.smtp.graph.GraphSubmission;
import io.mailproxy.smtp.graph.RecordingGraph;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pass-through through Microsoft Graph over real loopback sockets: the client's replies and what Graph was asked. */
class GraphSinkTest {

    @TempDir
    Path work;
    private Fixture fx;
    private final RecordingGraph graph = new RecordingGraph();

    @BeforeEach
    void start() throws Exception {
        fx = new Fixture(Fixture.listener(Optional.empty()), Fixture.settings(35 * 1024 * 1024, 4096), -1, null,
                (f, services) -> new SmtpFrontend(services, f.settings, null, null,
                        new GraphSubmission(() -> graph, f.executor, GraphSubmission.NO_SPLIT, work, 4096), work));
        fx.core.graph = graph;
        fx.core.upstream(new UpstreamConfig("office365", Optional.empty(), Map.of(), Optional.empty(),
                UpstreamConfig.Sending.GRAPH, Optional.empty(), Duration.ofSeconds(5), Duration.ofSeconds(5),
                Duration.ofSeconds(5)));
    }

    @AfterEach
    void stop() throws Exception {
        fx.close();
    }

    private String send(SmtpTestClient c, String... rcpts) throws Exception {
        expect(c.command("MAIL FROM:<app@legacy.example>"), "250");
        for (String r : rcpts) {
            expect(c.command("RCPT TO:<" + r + ">"), "250");
        }
        expect(c.command("DATA"), "354");
        return c.command("From: app@legacy.example\r\nTo: boss@contoso.com\r\nSubject: x\r\n\r\nbody\r\n..dot\r\n.");
    }

    @Test
    void equalRecipientsAreSentWithSendMailAnd250OnlyAfterGraph() throws Exception {
        try (SmtpTestClient c = fx.client().login("app")) {
            expect(send(c, "boss@contoso.com"), "250 2.0.0");
        }
        assertThat(graph.calls).containsExactly("sendMime");
        assertThat(graph.mime.get(0)).endsWith("body\r\n.dot\r\n");
        assertThat(fx.upstream).isNotNull();
        assertThat(fx.pools.handedOut).isEmpty(); // no SMTP upstream was leased
    }

    @Test
    void aBccRecipientGoesThroughADraft() throws Exception {
        try (SmtpTestClient c = fx.client().login("app")) {
            expect(send(c, "boss@contoso.com", "hidden@contoso.com"), "250 2.0.0");
        }
        assertThat(graph.calls).containsExactly("createMimeDraft", "setRecipients", "sendDraft");
        assertThat(graph.recipients.values().iterator().next().bcc()).containsExactly("hidden@contoso.com");
    }

    @Test
    void aMissingPermissionIs454AndNothingIsLeftBehind() throws Exception {
        graph.failNext.put("sendMime", RecordingGraph.failure(Kind.NOT_AUTHORISED, 403, "ErrorAccessDenied"));
        try (SmtpTestClient c = fx.client().login("app")) {
            expect(send(c, "boss@contoso.com"), "454 4.7.0");
            expect(c.command("NOOP"), "250"); // the session goes on
        }
        await().untilAsserted(() -> assertThat(Files.list(work)).isEmpty());
    }

    @Test
    void throttlingIs451() throws Exception {
        graph.failNext.put("sendMime", RecordingGraph.throttled(Duration.ofSeconds(2)));
        try (SmtpTestClient c = fx.client().login("app")) {
            expect(send(c, "boss@contoso.com"), "451 4.4.5");
        }
    }

    @Test
    void aClientLeavingMidDataLeavesNoFileAndSendsNothing() throws Exception {
        try (SmtpTestClient c = fx.client().login("app")) {
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250");
            expect(c.command("RCPT TO:<boss@contoso.com>"), "250");
            expect(c.command("DATA"), "354");
            c.send("To: boss@contoso.com\r\n\r\n" + "x".repeat(100_000) + "\r\n");
            await().until(() -> Files.list(work).findAny().isPresent());
        }
        await().untilAsserted(() -> assertThat(Files.list(work)).isEmpty());
        assertThat(graph.calls).isEmpty();
    }
}
