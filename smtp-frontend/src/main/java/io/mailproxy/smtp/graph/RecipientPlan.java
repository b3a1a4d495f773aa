package io.mailproxy.smtp.graph;

import io.mailproxy.core.graph.Recipients;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Who Graph is to send to: the SMTP envelope's recipients, exactly (RFC 5321 3.3; Graph itself has no envelope and
 * sends to the To, Cc and Bcc headers: docs/research/graph-evidence.md, section 2). When the headers name the same
 * set the message goes as it is; otherwise a draft's recipients are set to the envelope's, keeping To and Cc for
 * those the headers show there and making every other envelope recipient a Bcc.
 *
 * @param asIs         the headers name exactly the envelope's recipients (compared as SMTP does: {@link
 *                     HeaderRecipients#key})
 * @param recipients   the envelope's recipients as To, Cc and Bcc (what a draft is set to)
 * @param envelopeOnly envelope recipients the headers do not name (Bcc recipients of the client)
 * @param headerOnly   header addresses that are not envelope recipients (never sent to)
 */
record RecipientPlan(boolean asIs, Recipients recipients, List<String> envelopeOnly, List<String> headerOnly) {

    static RecipientPlan of(List<String> envelope, HeaderRecipients headers) {
        Map<String, String> env = new LinkedHashMap<>();
        envelope.forEach(a -> env.putIfAbsent(HeaderRecipients.key(a), a));
        Set<String> header = new LinkedHashSet<>();
        List.of(headers.to(), headers.cc(), headers.bcc()).forEach(l -> l.forEach(a -> header.add(HeaderRecipients.key(a))));
        List<String> envelopeOnly = new ArrayList<>();
        env.forEach((k, a) -> {
            if (!header.contains(k)) {
                envelopeOnly.add(a);
            }
        });
        List<String> headerOnly = new ArrayList<>();
        Set<String> seen = new LinkedHashSet<>();
        List.of(headers.to(), headers.cc(), headers.bcc()).forEach(l -> l.forEach(a -> {
            String k = HeaderRecipients.key(a);
            if (!env.containsKey(k) && seen.add(k)) {
                headerOnly.add(a);
            }
        }));
        Set<String> placed = new LinkedHashSet<>();
        List<String> to = pick(headers.to(), env, placed);
        List<String> cc = pick(headers.cc(), env, placed);
        List<String> bcc = new ArrayList<>();
        env.forEach((k, a) -> {
            if (placed.add(k)) {
                bcc.add(a);
            }
        });
        return new RecipientPlan(envelopeOnly.isEmpty() && headerOnly.isEmpty(), new Recipients(to, cc, bcc),
                envelopeOnly, headerOnly);
    }

    /** The header's addresses that are envelope recipients not placed yet, in the envelope's spelling. */
    private static List<String> pick(List<String> header, Map<String, String> env, Set<String> placed) {
        List<String> out = new ArrayList<>();
        for (String a : header) {
            String k = HeaderRecipients.key(a);
            if (env.containsKey(k) && placed.add(k)) {
                out.add(env.get(k));
            }
        }
        return out;
    }
}
