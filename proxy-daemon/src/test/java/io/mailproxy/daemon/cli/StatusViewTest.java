package io.mailproxy.daemon.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.admin.Json;
import io.mailproxy.core.admin.StatusReport;
import io.mailproxy.core.runtime.SessionInfo;
import io.mailproxy.daemon.control.ControlServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mailproxy status} against a real control socket. */
class StatusViewTest {

    private static final Instant NOW = Instant.parse("2026-11-25T21:30:00Z");

    @TempDir
    Path stateDir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int status(boolean json) {
        return StatusView.print(stateDir, json, new PrintWriter(out), new PrintWriter(err));
    }

    static StatusReport report() {
        return new StatusReport(NOW, NOW.minusSeconds(3 * 3600 + 7 * 60), "0.1.0", 2, 1,
                List.of(new SessionInfo("imap-1a", Protocol.IMAP, "127.0.0.1:50000", Optional.of("scanner"),
                                Optional.of("reports@contoso.com"), NOW.minusSeconds(725), 123, 4567),
                        new SessionInfo("smtp-2", Protocol.SMTP, "192.168.10.7:41000", Optional.empty(),
                                Optional.empty(), NOW.minusSeconds(3), 0, 120)),
                List.of(new StatusReport.Pool("reports@contoso.com", "imap", 1, 2, 0, 0, 8,
                        Optional.of(Duration.ofMinutes(42)), Optional.empty()),
                        new StatusReport.Pool("reports@contoso.com", "smtp", 0, 0, 0, 1, 3,
                                Optional.empty(), Optional.of(NOW.plusSeconds(90)))),
                List.of(new StatusReport.Account("reports@contoso.com", "oauth2", true, Optional.empty(),
                                Optional.of(NOW.minusSeconds(60)), Optional.empty(), Optional.of(NOW.plusSeconds(3000))),
                        new StatusReport.Account("scans@contoso.com", "oauth2", false,
                                Optional.of("refresh token expired (AADSTS700082): run ./mailproxy login"
                                        + " scans@contoso.com"),
                                Optional.empty(), Optional.of(NOW.minusSeconds(5)), Optional.empty())));
    }

    @Test
    void printsTheRunningDaemonsStatusAsTables() throws Exception {
        try (ControlServer daemon = ControlServer.start(stateDir, null, () -> List.of(Json.write(report())),
                List::of)) {
            assertThat(status(false)).isEqualTo(0);
        }

        assertThat(err.toString()).isEmpty();
        assertThat(out.toString()).isEqualTo(String.join("\n",
                "mailproxy 0.1.0, up 3h07m (since 2026-11-25T18:23:00Z)",
                "sessions: 2 open, 1 not logged in",
                "",
                "SESSIONS",
                "ID       PROTOCOL  CLIENT   ACCOUNT              FROM                FOR     IN   OUT",
                "imap-1a  imap      scanner  reports@contoso.com  127.0.0.1:50000     12m05s  123  4567",
                "smtp-2   smtp      -        -                    192.168.10.7:41000  3s      0    120",
                "",
                "POOLS",
                "ACCOUNT              PROTOCOL  ACTIVE  IDLE  PENDING  WAITING  MAX  TOKEN LEFT  THROTTLED",
                "reports@contoso.com  imap      1       2     0        0        8    42m00s      -",
                "reports@contoso.com  smtp      0       0     0        1        3    -           in 1m30s",
                "",
                "ACCOUNTS",
                "ACCOUNT              AUTH    OK   TOKEN EXPIRES  LAST SUCCESS  ERROR",
                "reports@contoso.com  oauth2  yes  in 50m00s      1m00s ago     -",
                "scans@contoso.com    oauth2  NO   -              -             refresh token expired (AADSTS700082):"
                        + " run ./mailproxy login scans@contoso.com",
                ""));
    }

    @Test
    void jsonPrintsTheSameReportAsTheAdminEndpoint() throws Exception {
        try (ControlServer daemon = ControlServer.start(stateDir, null, () -> List.of(Json.write(report())),
                List::of)) {
            assertThat(status(true)).isEqualTo(0);
        }

        assertThat(out.toString()).isEqualTo(Json.write(report()) + "\n");
    }

    @Test
    void emptySectionsSaySo() {
        String text = StatusView.render((Map<?, ?>) Json.parse(Json.write(new StatusReport(NOW, NOW, "0.1.0", 0, 0,
                List.of(), List.of(), List.of()))));

        assertThat(text).isEqualTo("mailproxy 0.1.0, up 0s (since 2026-11-25T21:30:00Z)\nsessions: 0 open, 0 not"
                + " logged in\n\nSESSIONS\n  (no sessions open)\n\nPOOLS\n  (no upstream pools)\n\nACCOUNTS\n"
                + "  (no accounts configured)\n");
    }

    @Test
    void exitsOneWithAClearMessageWhenNoDaemonRuns() {
        assertThat(status(false)).isEqualTo(1);

        assertThat(out.toString()).isEmpty();
        assertThat(err.toString()).isEqualTo("mailproxy status: no mailproxy daemon is running with state-dir "
                + stateDir + " (nothing answers on " + stateDir.resolve("control.sock") + "); start it with"
                + " ./mailproxy run or systemctl start mailproxy\n");
    }

    @Test
    void anAnswerThatIsNotAReportIsAFailure() throws Exception {
        try (ControlServer daemon = ControlServer.start(stateDir, null, () -> List.of("sessions: 3"), List::of)) {
            assertThat(status(false)).isEqualTo(1);
        }

        assertThat(err.toString()).startsWith("mailproxy status: the daemon's answer is not a status report (bad JSON");
    }

    @Test
    void durationsReadEasily() {
        assertThat(StatusView.duration(Duration.ofSeconds(45))).isEqualTo("45s");
        assertThat(StatusView.duration(Duration.ofSeconds(725))).isEqualTo("12m05s");
        assertThat(StatusView.duration(Duration.ofMinutes(187))).isEqualTo("3h07m");
        assertThat(StatusView.duration(Duration.ofHours(52))).isEqualTo("2d04h");
        assertThat(StatusView.duration(Duration.ofSeconds(-5))).isEqualTo("0s");
    }

    @Test
    void showsTheSmtpQueueWhenThereIsOne() {
        StatusReport withQueue = new StatusReport(NOW, NOW, "0.1.0", 0, 0, List.of(), List.of(), List.of(),
                java.util.Optional.of(new StatusReport.Queue(3, 30720, java.util.Optional.of(java.time.Duration.ofSeconds(95)),
                        java.util.Map.of("reports@contoso.com", "quota: 554 5.2.0 until 2026-11-26T18:00:00Z"))));
        String text = StatusView.render((java.util.Map<?, ?>) Json.parse(Json.write(withQueue)));
        assertThat(text).contains("SMTP QUEUE\n3 message(s), 30720 bytes, oldest waiting 1m35s\n")
                .contains("held: reports@contoso.com: quota: 554 5.2.0 until 2026-11-26T18:00:00Z\n");
    }
}
