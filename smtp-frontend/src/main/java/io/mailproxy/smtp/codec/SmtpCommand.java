package io.mailproxy.smtp.codec;

import java.util.Locale;

/**
 * A command line split into its verb (upper-cased) and the rest.
 *
 * @param argument the text after the verb and one space, as sent (may be empty)
 */
public record SmtpCommand(String verb, String argument) {

    public static SmtpCommand parse(String line) {
        int sp = line.indexOf(' ');
        if (sp < 0) {
            return new SmtpCommand(line.toUpperCase(Locale.ROOT), "");
        }
        return new SmtpCommand(line.substring(0, sp).toUpperCase(Locale.ROOT), line.substring(sp + 1));
    }
}
