package io.mailproxy.pop3.codec;

/**
 * A command line longer than the limit; its bytes were discarded.
 *
 * @param octets  how many octets were seen (so far, when {@code abusive})
 * @param abusive true when the line passed the abuse limit before ending: the session should close
 */
public record Pop3OversizeLine(long octets, boolean abusive) implements Pop3Request { }
