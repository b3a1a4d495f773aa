package io.mailproxy.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.mailproxy.testkit.ScriptedUpstream.Dialect;
import io.mailproxy.testkit.ScriptedUpstream.Security;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The fake ends IMAP sessions mid-IDLE as Office 365 does: a token BYE, a "Connection closed." BYE, a reset. */
class Office365EndingTest {

    private static final class Client implements AutoCloseable {
        final Socket socket;
        final BufferedReader in;

        Client(ScriptedUpstream up) throws IOException {
            socket = new Socket(up.host(), up.port());
            socket.setSoTimeout(5_000);
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
            in.readLine(); // greeting
        }

        String send(String line) throws IOException {
            socket.getOutputStream().write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
            return in.readLine();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    private static ScriptedUpstream idling(Client[] out) throws IOException {
        ScriptedUpstream up = Office365.of(Dialect.IMAP, Security.PLAINTEXT, null)
                .account("reports@contoso.com", "pw").start();
        out[0] = new Client(up);
        assertThat(out[0].send("a LOGIN reports@contoso.com pw")).isEqualTo("a OK LOGIN completed.");
        assertThat(out[0].send("b IDLE")).isEqualTo("+ IDLE accepted, awaiting DONE command.");
        return up;
    }

    @Test
    void idleEndsWithDone() throws IOException {
        Client[] c = new Client[1];
        try (ScriptedUpstream up = idling(c); Client client = c[0]) {
            assertThat(client.send("DONE")).isEqualTo("b OK IDLE completed.");
        }
    }

    @Test
    void tokenExpiredMidIdle() throws IOException {
        Client[] c = new Client[1];
        try (ScriptedUpstream up = idling(c); Client client = c[0]) {
            Office365.endSessions(up, Office365.Ending.TOKEN_EXPIRED);
            assertThat(client.in.readLine()).isEqualTo("* BYE Session invalidated - AccessTokenExpired");
            assertThat(client.in.readLine()).isNull();
        }
    }

    @Test
    void connectionClosedMidIdle() throws IOException {
        Client[] c = new Client[1];
        try (ScriptedUpstream up = idling(c); Client client = c[0]) {
            Office365.endSessions(up, Office365.Ending.CONNECTION_CLOSED);
            assertThat(client.in.readLine()).isEqualTo("* BYE Connection closed.");
            assertThat(client.in.readLine()).isNull();
        }
    }

    @Test
    void resetMidIdle() throws IOException {
        Client[] c = new Client[1];
        try (ScriptedUpstream up = idling(c); Client client = c[0]) {
            Office365.endSessions(up, Office365.Ending.RESET);
            Throwable t = catchThrowable(client.in::readLine);
            assertThat(t).isInstanceOf(SocketException.class).hasMessageContaining("reset");
        }
    }
}
