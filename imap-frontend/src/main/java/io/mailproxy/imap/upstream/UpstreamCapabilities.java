package io.mailproxy.imap.upstream;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;

/**
 * The upstream's capabilities as a relayed client may see them: without what only the connection to the upstream
 * has (STARTTLS, LOGINDISABLED, AUTH=*, SASL-IR, COMPRESS=*) or what the proxy cannot relay (UNAUTHENTICATE).
 * LITERAL+ stays only if the upstream has it, because the relay passes literals on as the client sent them.
 */
public final class UpstreamCapabilities {

    private UpstreamCapabilities() { }

    /** The rewritten list, IMAP4rev1 first, in the upstream's order otherwise. */
    public static List<String> rewrite(Collection<String> upstream) {
        return rewrite(upstream, false);
    }

    /**
     * With {@code folders} (a client with an allow-list), also without what such a client is refused: UTF8=* (raw
     * UTF-8 names), NOTIFY, MULTISEARCH and URLAUTH, whose mailbox names the allow-list cannot judge.
     */
    public static List<String> rewrite(Collection<String> upstream, boolean folders) {
        List<String> out = new ArrayList<>();
        for (String cap : upstream) {
            String c = cap.toUpperCase(Locale.ROOT);
            if (c.equals("STARTTLS") || c.equals("LOGINDISABLED") || c.startsWith("AUTH=") || c.equals("SASL-IR")
                    || c.startsWith("COMPRESS=") || c.equals("UNAUTHENTICATE") || c.equals("IMAP4REV1")) {
                continue;
            }
            if (folders && (c.startsWith("UTF8=") || c.equals("NOTIFY") || c.equals("MULTISEARCH")
                    || c.startsWith("URLAUTH"))) {
                continue;
            }
            out.add(cap);
        }
        out.add(0, "IMAP4rev1");
        return out;
    }

    /** Rewrites the atoms of a {@code * CAPABILITY ...} line's text (without CRLF). */
    public static String rewriteLine(String capabilityLine) {
        return rewriteLine(capabilityLine, false);
    }

    /** {@link #rewriteLine(String)}, for a client with an allow-list when {@code folders}. */
    public static String rewriteLine(String capabilityLine, boolean folders) {
        String[] words = capabilityLine.trim().split(" +");
        List<String> caps = new ArrayList<>();
        for (int i = 2; i < words.length; i++) {
            caps.add(words[i]);
        }
        return words[0] + " " + words[1] + " " + String.join(" ", rewrite(caps, folders));
    }
}
