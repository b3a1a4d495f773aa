package io.mailproxy.daemon.logging;

import ch.qos.logback.classic.pattern.MessageConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code %maskedMsg}: the log message with credential-shaped text replaced by {@code ****}.
 *
 * <p>Code never logs secrets on purpose (every credential type masks its own toString); this is the last line of
 * defence for text that comes from elsewhere, such as an upstream echoing a command or a library's debug output.
 */
public final class MaskingMessageConverter extends MessageConverter {

    private static final Pattern[] PATTERNS = {
        Pattern.compile("\\$argon2(?:id|i|d)\\$[^\\s\"']+"),
        // XOAUTH2 initial responses: base64 of "user=..." starts with dXNlcj
        Pattern.compile("dXNlcj[A-Za-z0-9+/=]{8,}"),
        Pattern.compile("(?i)(auth=Bearer\\s+)[^\\s\\u0001]+"),
        Pattern.compile("(?i)(Authorization:\\s*(?:Bearer|Basic)\\s+)\\S+"),
        Pattern.compile("(?i)((?:access_token|refresh_token|id_token|client_secret|client_assertion|password|"
                + "device_code|code_verifier|auth_code)[\"']?\\s*[=:]\\s*[\"']?)[^\\s\"'&,}]+"),
        // "eyJ" starts a JWT (a client assertion or a token someone chose to log)
        Pattern.compile("eyJ[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]*"),
    };

    @Override
    public String convert(ILoggingEvent event) {
        return mask(super.convert(event));
    }

    public static String mask(String message) {
        if (message == null) {
            return null;
        }
        String out = message;
        for (Pattern p : PATTERNS) {
            Matcher m = p.matcher(out);
            if (m.find()) {
                out = m.replaceAll(r -> (r.groupCount() >= 1 && r.group(1) != null
                        ? Matcher.quoteReplacement(r.group(1)) : "") + "****");
            }
        }
        return out;
    }
}
