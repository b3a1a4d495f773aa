package io.mailproxy.core.graph;

import java.time.Instant;

/**
 * What a listing says of one message.
 *
 * @param id       Graph's immutable id
 * @param size     Exchange's size estimate ({@code PidTagMessageSize}), not the length of its MIME
 * @param received {@code receivedDateTime}
 */
public record MessageInfo(String id, long size, boolean read, boolean draft, Instant received) { }
