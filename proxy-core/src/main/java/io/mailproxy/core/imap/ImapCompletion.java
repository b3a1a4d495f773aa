package io.mailproxy.core.imap;

import java.util.List;
import java.util.Optional;

/**
 * The tagged completion of a command sent with {@link ImapClient}.
 *
 * @param text     what follows the status word, response code included ({@code [READ-WRITE] SELECT completed})
 * @param untagged the untagged responses received while the command ran (empty when a listener consumed them)
 */
public record ImapCompletion(String tag, ImapStatus status, String text, List<ImapResponse> untagged) {

    public ImapCompletion {
        untagged = List.copyOf(untagged);
    }

    public boolean isOk() {
        return status == ImapStatus.OK;
    }

    /** The response code without brackets ({@code TRYCREATE}, {@code COPYUID 38505 304 3956}), if any. */
    public Optional<String> responseCode() {
        if (text.startsWith("[")) {
            int close = text.indexOf(']');
            if (close > 0) {
                return Optional.of(text.substring(1, close));
            }
        }
        return Optional.empty();
    }

    /** The first untagged response of the given kind ({@code "SEARCH"}, {@code "EXISTS"}...). */
    public Optional<ImapResponse> first(String name) {
        return untagged.stream().filter(r -> r.isA(name)).findFirst();
    }

    /** Every untagged response of the given kind. */
    public List<ImapResponse> all(String name) {
        return untagged.stream().filter(r -> r.isA(name)).toList();
    }
}
