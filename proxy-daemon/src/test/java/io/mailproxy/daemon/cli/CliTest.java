package io.mailproxy.daemon.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.identity.PasswordHasher;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class CliTest {

    @TempDir
    Path dir;

    private final InputStream stdin = System.in;
    private final PrintStream stdout = System.out;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    @BeforeEach
    void captureOutput() {
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restore() {
        System.setIn(stdin);
        System.setOut(stdout);
    }

    private int run(String input, String... args) {
        System.setIn(new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)));
        return MailproxyCommand.execute(args);
    }

    @Test
    void hashPasswordReadsStdinAndPrintsAVerifiableArgon2idHash() {
        assertThat(run("correct horse\n", "hash-password")).isZero();
        String hash = out.toString(StandardCharsets.UTF_8).trim();
        assertThat(hash).startsWith("$argon2id$v=19$");
        assertThat(PasswordHasher.verify("correct horse".getBytes(StandardCharsets.UTF_8), hash)).isTrue();
        assertThat(PasswordHasher.verify("correct horsE".getBytes(StandardCharsets.UTF_8), hash)).isFalse();
    }

    @Test
    void secretSetListDeleteWithoutADaemonUseTheStoreDirectly() throws Exception {
        Path conf = Files.writeString(dir.resolve("m.conf"),
                "mailproxy { state-dir = \"" + dir.resolve("state") + "\" }\n");
        assertThat(run("s3cr3t-value\n", "secret", "set", "app-secret", "--config", conf.toString())).isZero();
        assertThat(run("", "secret", "list", "--config", conf.toString())).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("app-secret").doesNotContain("s3cr3t-value");
        // the value is encrypted at rest
        try (var files = Files.list(dir.resolve("state"))) {
            for (Path f : files.toList()) {
                assertThat(new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1)).doesNotContain("s3cr3t");
            }
        }
        assertThat(run("", "secret", "delete", "app-secret", "--config", conf.toString())).isZero();
        assertThat(run("", "secret", "delete", "app-secret", "--config", conf.toString())).isEqualTo(1);
    }

    @Test
    void aConfigErrorExitsTwoWithFileLineAndKey() throws Exception {
        Path conf = Files.writeString(dir.resolve("bad.conf"), "mailproxy {\n  admin { port = \"many\" }\n}\n");
        CommandLine cl = MailproxyCommand.commandLine();
        StringWriter err = new StringWriter();
        cl.setErr(new PrintWriter(err));
        assertThat(cl.execute("check", "--config", conf.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("bad.conf:2").contains("port");
    }

    @Test
    void unknownSubcommandIsAUsageError() {
        assertThat(run("", "frobnicate")).isEqualTo(2);
    }

    @Test
    void queueWithoutADaemonWorksOnTheSpool() throws Exception {
        Path state = dir.resolve("state");
        Path conf = Files.writeString(dir.resolve("m.conf"), "mailproxy { state-dir = \"" + state + "\" }\n");
        assertThat(run("", "queue", "list", "--config", conf.toString())).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("the queue is empty");

        // a message accepted by an earlier run
        io.mailproxy.smtp.queue.Spool spool = io.mailproxy.smtp.queue.Spool.open(
                io.mailproxy.smtp.queue.SmtpQueue.spoolDirectory(state), 1L << 30,
                io.mailproxy.smtp.queue.Spool.Durability.FSYNC, Runnable::run, java.time.Clock.systemUTC(),
                java.time.Duration.ZERO);
        io.mailproxy.smtp.queue.Spool.Writer w = spool.newMessage();
        w.write(io.netty.buffer.Unpooled.copiedBuffer("Subject: x\r\n\r\nbody\r\n", StandardCharsets.US_ASCII));
        String id = w.commit("box@example.test", "app", "app@legacy.example", "app@legacy.example", java.util.List.of(),
                java.util.List.of("boss@example.test")).get().id();

        out.reset();
        assertThat(run("", "queue", "list", "--config", conf.toString())).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).startsWith(id + " ").contains("account box@example.test")
                .contains("from <app@legacy.example> to <boss@example.test>").contains("attempts 0");
        assertThat(run("", "queue", "retry", "all", "--config", conf.toString())).isZero();
        assertThat(run("", "queue", "retry", "MWW0-0000000000", "--config", conf.toString())).isEqualTo(1);
        assertThat(run("", "queue", "delete", id, "--config", conf.toString())).isZero();
        try (var files = Files.list(io.mailproxy.smtp.queue.SmtpQueue.spoolDirectory(state))) {
            assertThat(files.toList()).isEmpty();
        }
        assertThat(run("", "queue", "delete", id, "--config", conf.toString())).isEqualTo(1);
        assertThat(run("", "queue", "delete", "--config", conf.toString())).isEqualTo(2);
        assertThat(run("", "queue", "flush", "--config", conf.toString())).isEqualTo(2);
    }
}
