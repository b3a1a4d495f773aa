package io.mailproxy.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The hostile clients' input is what issue 9 names, and the silent connections' bookkeeping sees what is open. */
class HostileLoadTest {

    @Test
    void imapLineIsOneMegabyteSearchCommandEndingInCrlf() {
        String line = new String(HostileLoad.IMAP_LINE, StandardCharsets.US_ASCII);
        assertThat(HostileLoad.IMAP_LINE).hasSize(1_000_000);
        assertThat(line).startsWith("f SEARCH TEXT xxx").endsWith("x\r\n");
        assertThat(line.indexOf('\n')).isEqualTo(line.length() - 1);
    }

    @Test
    void dataLineIsTheLongestRfc5321Allows() {
        String line = new String(HostileLoad.DATA_LINE, StandardCharsets.US_ASCII);
        assertThat(HostileLoad.DATA_LINE).hasSize(1000);
        assertThat(line).endsWith("y\r\n").doesNotContain(".").doesNotStartWith("\r");
        assertThat(line.indexOf('\n')).isEqualTo(999);
    }

    @Test
    void silentConnectionsAreCountedUntilThePeerClosesThem() throws Exception {
        InetAddress loopback = InetAddress.getLoopbackAddress();
        try (ServerSocket server = new ServerSocket(0, 10, loopback);
                HostileLoad.Silent silent = HostileLoad.Silent.open(3,
                        new InetSocketAddress(loopback, server.getLocalPort()))) {
            assertThat(silent.channels).hasSize(3);
            assertThat(silent.failed).isZero();
            Socket a = server.accept();
            Socket b = server.accept();
            Socket c = server.accept();
            assertThat(silent.held()).isEqualTo(3);
            a.getOutputStream().write("* BYE too many\r\n".getBytes(StandardCharsets.US_ASCII));
            a.close(); // a refusal: goodbye, then close
            await().atMost(Duration.ofSeconds(5)).until(silent::held, n -> n == 2);
            assertThat(silent.held()).isEqualTo(2); // a closed connection stays counted as closed
            c.close();
            await().atMost(Duration.ofSeconds(5)).until(silent::held, n -> n == 1);
            b.close();
            silent.close();
            assertThat(silent.held()).isZero(); // closed here: nothing left to count
        }
    }
}
