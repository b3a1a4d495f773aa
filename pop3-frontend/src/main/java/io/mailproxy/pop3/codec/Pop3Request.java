package io.mailproxy.pop3.codec;

/** What {@link Pop3CommandDecoder} emits. */
public sealed interface Pop3Request permits Pop3CommandLine, Pop3OversizeLine { }
