package io.mailproxy.smtp.graph;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.graph.GraphException;
import io.mailproxy.core.graph.GraphException.Kind;
import io.mailproxy.smtp.graph.GraphReplies.Effect;
import io.mailproxy.smtp.graph.GraphReplies.GraphFailure;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The table: Graph's kind and code → the SMTP reply and what the queue does. */
class GraphRepliesTest {

    @ParameterizedTest
    @CsvSource({
        "NOT_AUTHORISED, 403, ErrorAccessDenied,          454 4.7.0, CONFIGURATION",
        "NOT_AUTHORISED, 401, InvalidAuthenticationToken, 454 4.7.0, CONFIGURATION",
        "THROTTLED,      429, ApplicationThrottled,       451 4.4.5, THROTTLED",
        "THROTTLED,      503, serviceNotAvailable,        451 4.4.5, THROTTLED",
        "UNAVAILABLE,    0,   '',                         451 4.4.1, UNAVAILABLE",
        "SERVER,         500, ErrorInternalServerError,   451 4.4.1, UNAVAILABLE",
        "QUOTA,          400, ErrorQuotaExceeded,         452 4.2.2, QUOTA",
        "REJECTED,       400, ErrorMessageSizeExceeded,   552 5.3.4, PERMANENT",
        "REJECTED,       413, '',                         554 5.5.0, PERMANENT",
        "REJECTED,       400, ErrorInvalidRecipients,     550 5.1.1, PERMANENT",
        "REJECTED,       400, ErrorMimeContentInvalidBase64String, 554 5.5.0, PERMANENT",
    })
    void mapsEachKind(Kind kind, int status, String code, String reply, Effect effect) {
        GraphFailure f = GraphReplies.of(new CompletionException(new GraphException(kind, status, code, "msg",
                Optional.of(Duration.ofSeconds(7)), null)));
        assertThat(f.reply().oneLine()).startsWith(reply);
        assertThat(f.effect()).isEqualTo(effect);
        if (!code.isEmpty()) {
            assertThat(f.reply().oneLine()).contains(code);
        }
        if (kind == Kind.THROTTLED) {
            assertThat(f.retryAfter()).contains(Duration.ofSeconds(7));
        }
    }
}
