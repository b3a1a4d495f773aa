package io.mailproxy.daemon.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mailproxy.daemon.demo.Demo;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * {@code ./mailproxy demo} in-process on free ports: every curl command it prints works and shows the demo mail.
 * An IT (its own JVM, under failsafe) because the demo's GreenMail installs its own TLS keystore, which GreenMail reads
 * once per JVM, while the unit tests' GreenMail uses the testkit's.
 */
class DemoSmokeIT {

    private static boolean curlAvailable() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, "curl"))) {
                return true;
            }
        }
        return false;
    }

    private static String run(String command) throws Exception {
        Process p = new ProcessBuilder("/bin/sh", "-c", command).redirectErrorStream(true).start();
        p.getOutputStream().close();
        boolean done = p.waitFor(20, TimeUnit.SECONDS);
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!done) {
            p.destroyForcibly();
        }
        assertThat(done).as("curl finished: " + command).isTrue();
        assertThat(p.exitValue()).as("exit status of " + command + "\n" + out).isZero();
        return out;
    }

    @Test
    void everyPrintedCurlCommandWorks() throws Exception {
        Assumptions.assumeTrue(curlAvailable(), "curl is not installed");
        int imapPort;
        try (Demo demo = Demo.start(0, 0, 0)) {
            imapPort = demo.port("imap");
            ByteArrayOutputStream printed = new ByteArrayOutputStream();
            demo.printInstructions(new PrintStream(printed, true, StandardCharsets.UTF_8));
            String text = printed.toString(StandardCharsets.UTF_8);
            assertThat(text).startsWith("demo ready:");
            List<String> commands = new ArrayList<>();
            for (String line : text.split("\n")) {
                if (line.startsWith("  curl ") || line.startsWith("  printf ")) {
                    commands.add(line.trim());
                }
            }
            assertThat(commands).hasSize(5);
            for (String c : commands) {
                assertThat(c).doesNotContain(":0/").doesNotContain(":0'");
            }
            assertThat(commands.get(0)).contains(":" + demo.port("imap") + "/");

            assertThat(run(commands.get(0))).contains("* 1 FETCH").contains("* 3 FETCH")
                    .contains("Welcome to the mailproxy demo");
            assertThat(run(commands.get(1))).contains("Subject: Welcome to the mailproxy demo")
                    .contains("This message sits in a TLS upstream");
            assertThat(run(commands.get(2))).matches("(?s)1 \\d+\r\n2 \\d+\r\n3 \\d+\r\n");
            assertThat(run(commands.get(3))).contains("Subject: Welcome to the mailproxy demo")
                    .contains("This message sits in a TLS upstream");
            assertThat(run(commands.get(4))).isEqualTo("250\n");
        }
        // closing the demo stops the daemon too: its listeners are gone
        assertThatThrownBy(() -> new java.net.Socket("127.0.0.1", imapPort).close())
                .isInstanceOf(java.net.ConnectException.class);
    }
}
