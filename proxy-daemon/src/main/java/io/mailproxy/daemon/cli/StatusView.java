package io.mailproxy.daemon.cli;

import io.mailproxy.core.AdminCommand;
import io.mailproxy.core.admin.Json;
import io.mailproxy.daemon.control.ControlClient;
import java.io.IOException;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * {@code mailproxy status}: fetches the running daemon's status report (the JSON of {@code /status}) over the control
 * socket and prints it as tables, or as the JSON itself.
 */
final class StatusView {

    private StatusView() { }

    /** @return the exit code: 0, or 1 when no daemon answers on the state-dir's control socket */
    static int print(Path stateDir, boolean json, PrintWriter out, PrintWriter err) {
        Path socket = ControlClient.socketPath(stateDir);
        if (!ControlClient.isRunning(stateDir)) {
            err.println("mailproxy status: no mailproxy daemon is running with state-dir " + stateDir + " (nothing"
                    + " answers on " + socket + "); start it with " + AdminCommand.of("run")
                    + " or systemctl start mailproxy");
            err.flush();
            return ExitCodes.RUNTIME_FAILURE;
        }
        String text;
        try {
            text = String.join("\n", new ControlClient(stateDir).status());
        } catch (IOException e) {
            err.println("mailproxy status: the daemon on " + socket + " did not answer: " + e.getMessage());
            err.flush();
            return ExitCodes.RUNTIME_FAILURE;
        }
        if (json) {
            out.println(text);
        } else {
            Object report;
            try {
                report = Json.parse(text);
            } catch (IllegalArgumentException e) {
                err.println("mailproxy status: the daemon's answer is not a status report (" + e.getMessage()
                        + "); is it an older version?");
                err.flush();
                return ExitCodes.RUNTIME_FAILURE;
            }
            if (!(report instanceof Map<?, ?> map)) {
                err.println("mailproxy status: the daemon's answer is not a status report");
                err.flush();
                return ExitCodes.RUNTIME_FAILURE;
            }
            out.print(render(map));
        }
        out.flush();
        return ExitCodes.OK;
    }

    /** The report as text: a summary, then the sessions, pools and accounts tables. */
    static String render(Map<?, ?> report) {
        Instant now = instant(report.get("time"));
        StringBuilder out = new StringBuilder();
        Instant started = instant(report.get("started"));
        out.append("mailproxy ").append(text(report.get("version")));
        if (started != null && now != null) {
            out.append(", up ").append(duration(Duration.between(started, now))).append(" (since ")
                    .append(started).append(')');
        }
        out.append('\n');
        out.append("sessions: ").append(text(report.get("sessionsOpen"))).append(" open, ")
                .append(text(report.get("sessionsUnauthenticated"))).append(" not logged in\n");

        List<Map<?, ?>> sessions = objects(report.get("sessions"));
        out.append("\nSESSIONS\n");
        table(out, sessions, List.of(
                column("ID", s -> text(s.get("id"))),
                column("PROTOCOL", s -> text(s.get("protocol"))),
                column("CLIENT", s -> text(s.get("client"))),
                column("ACCOUNT", s -> text(s.get("account"))),
                column("FROM", s -> text(s.get("remote"))),
                column("FOR", s -> since(instant(s.get("opened")), now)),
                column("IN", s -> text(s.get("bytesIn"))),
                column("OUT", s -> text(s.get("bytesOut")))), "no sessions open");

        out.append("\nPOOLS\n");
        table(out, objects(report.get("pools")), List.of(
                column("ACCOUNT", p -> text(p.get("account"))),
                column("PROTOCOL", p -> text(p.get("protocol"))),
                column("ACTIVE", p -> text(p.get("active"))),
                column("IDLE", p -> text(p.get("idle"))),
                column("PENDING", p -> text(p.get("pending"))),
                column("WAITING", p -> text(p.get("waiting"))),
                column("MAX", p -> text(p.get("max"))),
                column("TOKEN LEFT", p -> seconds(p.get("minTokenLifeLeft"))),
                column("THROTTLED", p -> until(instant(p.get("throttledUntil")), now))), "no upstream pools");

        out.append("\nACCOUNTS\n");
        table(out, objects(report.get("accounts")), List.of(
                column("ACCOUNT", a -> text(a.get("account"))),
                column("AUTH", a -> text(a.get("auth"))),
                column("OK", a -> Boolean.TRUE.equals(a.get("ok")) ? "yes" : "NO"),
                column("TOKEN EXPIRES", a -> until(instant(a.get("tokenExpiresAt")), now)),
                column("LAST SUCCESS", a -> ago(instant(a.get("lastSuccessAt")), now)),
                column("ERROR", a -> text(a.get("error")))), "no accounts configured");

        if (report.get("queue") instanceof Map<?, ?> queue) {
            out.append("\nSMTP QUEUE\n");
            out.append(text(queue.get("depth"))).append(" message(s), ").append(text(queue.get("bytes")))
                    .append(" bytes, oldest waiting ").append(seconds(queue.get("oldestAge"))).append('\n');
            if (queue.get("heldAccounts") instanceof Map<?, ?> held) {
                held.forEach((account, why) -> out.append("held: ").append(account).append(": ").append(why)
                        .append('\n'));
            }
        }
        return out.toString();
    }

    private record Column(String title, Function<Map<?, ?>, String> value) { }

    private static Column column(String title, Function<Map<?, ?>, String> value) {
        return new Column(title, value);
    }

    private static void table(StringBuilder out, List<Map<?, ?>> rows, List<Column> columns, String empty) {
        if (rows.isEmpty()) {
            out.append("  (").append(empty).append(")\n");
            return;
        }
        List<String[]> cells = new ArrayList<>();
        int[] width = new int[columns.size()];
        String[] titles = new String[columns.size()];
        for (int c = 0; c < columns.size(); c++) {
            titles[c] = columns.get(c).title();
            width[c] = titles[c].length();
        }
        cells.add(titles);
        for (Map<?, ?> row : rows) {
            String[] line = new String[columns.size()];
            for (int c = 0; c < columns.size(); c++) {
                line[c] = printable(columns.get(c).value().apply(row));
                width[c] = Math.max(width[c], line[c].length());
            }
            cells.add(line);
        }
        for (String[] line : cells) {
            StringBuilder l = new StringBuilder();
            for (int c = 0; c < line.length; c++) {
                l.append(line[c]);
                if (c < line.length - 1) {
                    l.append(" ".repeat(width[c] - line[c].length() + 2));
                }
            }
            out.append(l.toString().stripTrailing()).append('\n');
        }
    }

    @SuppressWarnings("unchecked")
    private static List<Map<?, ?>> objects(Object value) {
        List<Map<?, ?>> list = new ArrayList<>();
        if (value instanceof List<?> items) {
            for (Object item : items) {
                if (item instanceof Map<?, ?> m) {
                    list.add(m);
                }
            }
        }
        return list;
    }

    private static String text(Object value) {
        if (value == null) {
            return "-";
        }
        if (value instanceof BigDecimal n) {
            return n.toPlainString();
        }
        String s = value.toString();
        return s.isEmpty() ? "-" : s;
    }

    /** No control characters from the daemon reach the terminal. */
    private static String printable(String s) {
        StringBuilder out = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            out.append(Character.isISOControl(c) ? ' ' : c);
        }
        return out.toString();
    }

    private static Instant instant(Object value) {
        if (value instanceof String s) {
            try {
                return Instant.parse(s);
            } catch (DateTimeParseException e) {
                return null;
            }
        }
        return null;
    }

    private static String seconds(Object value) {
        return value instanceof BigDecimal n ? duration(Duration.ofSeconds(n.longValue())) : "-";
    }

    private static String since(Instant then, Instant now) {
        return then == null || now == null ? "-" : duration(Duration.between(then, now));
    }

    private static String ago(Instant then, Instant now) {
        return then == null || now == null ? "-" : duration(Duration.between(then, now)) + " ago";
    }

    private static String until(Instant then, Instant now) {
        if (then == null) {
            return "-";
        }
        if (now == null) {
            return then.toString();
        }
        Duration left = Duration.between(now, then);
        return left.isNegative() ? "expired " + duration(left.negated()) + " ago" : "in " + duration(left);
    }

    /** "45s", "12m05s", "3h07m", "2d04h". */
    static String duration(Duration d) {
        long s = Math.max(0, d.toSeconds());
        if (s < 60) {
            return s + "s";
        }
        if (s < 3600) {
            return String.format("%dm%02ds", s / 60, s % 60);
        }
        if (s < 86400) {
            return String.format("%dh%02dm", s / 3600, (s % 3600) / 60);
        }
        return String.format("%dd%02dh", s / 86400, (s % 86400) / 3600);
    }
}
