package io.mailproxy.core.imap;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;

/**
 * What a re-SELECT compares: the {@code [UIDVALIDITY n]} response code of a SELECT or EXAMINE (RFC 3501 section
 * 7.1) and the numbers of a {@code * SEARCH} result (section 7.2.5). One parser for the IMAP relay's hand-over and
 * POP3-over-IMAP, so both read a server's replies alike.
 */
public final class ImapMailboxData {

    private static final String UIDVALIDITY = "* OK [UIDVALIDITY ";
    private static final String SEARCH = "* SEARCH";
    /** UIDVALIDITY is a 32-bit nz-number: more digits than this is not one. */
    private static final int MAX_DIGITS = 10;

    private ImapMailboxData() { }

    /**
     * The UIDVALIDITY of an untagged response's text ({@code * OK [UIDVALIDITY 3857529045] UIDs valid}), without
     * CRLF; empty for any other response, or a code whose value is not a number.
     */
    public static OptionalLong uidValidity(String response) {
        if (!response.regionMatches(true, 0, UIDVALIDITY, 0, UIDVALIDITY.length())) {
            return OptionalLong.empty();
        }
        int from = UIDVALIDITY.length();
        int end = from;
        while (end < response.length() && end - from <= MAX_DIGITS && isDigit(response.charAt(end))) {
            end++;
        }
        if (end == from || end - from > MAX_DIGITS || end >= response.length() || response.charAt(end) != ']') {
            return OptionalLong.empty();
        }
        return OptionalLong.of(Long.parseLong(response.substring(from, end)));
    }

    /** The UIDVALIDITY among a completed SELECT's or EXAMINE's untagged responses, if it sent one. */
    public static OptionalLong uidValidity(ImapCompletion selected) {
        for (ImapResponse r : selected.untagged()) {
            OptionalLong v = uidValidity(r.text());
            if (v.isPresent()) {
                return v;
            }
        }
        return OptionalLong.empty();
    }

    /** True for a {@code * SEARCH} response's text (with or without numbers). */
    public static boolean isSearch(String response) {
        return response.regionMatches(true, 0, SEARCH, 0, SEARCH.length())
                && (response.length() == SEARCH.length() || response.charAt(SEARCH.length()) == ' ');
    }

    /**
     * The numbers of a {@code * SEARCH} response's text, in the server's order; what follows them in parentheses
     * (RFC 7162's {@code (MODSEQ n)}) is not one of them. Empty for any other response.
     */
    public static long[] searchResult(String response) {
        if (!isSearch(response)) {
            return new long[0];
        }
        String[] words = response.substring(SEARCH.length()).trim().toUpperCase(Locale.ROOT).split(" +");
        return Arrays.stream(words).takeWhile(w -> !w.startsWith("(")).filter(ImapMailboxData::isNumber)
                .mapToLong(Long::parseLong).toArray();
    }

    /** The numbers of every {@code * SEARCH} response among a completed command's untagged responses. */
    public static long[] searchResult(ImapCompletion searched) {
        return searchResult(searched.untagged());
    }

    private static long[] searchResult(List<ImapResponse> untagged) {
        return untagged.stream().map(ImapResponse::text).filter(ImapMailboxData::isSearch)
                .flatMapToLong(t -> Arrays.stream(searchResult(t))).toArray();
    }

    private static boolean isNumber(String word) {
        if (word.isEmpty() || word.length() > 19) {
            return false;
        }
        for (int i = 0; i < word.length(); i++) {
            if (!isDigit(word.charAt(i))) {
                return false;
            }
        }
        return word.length() < 19 || word.compareTo("9223372036854775807") <= 0;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }
}
