package io.mailproxy.testkit.graph;

/**
 * One request the fake answered, for assertions.
 *
 * @param method        HTTP method
 * @param path          the raw path and query as sent ({@code /v1.0/users/a@b/sendMail})
 * @param mailbox       the {@code users/{id}} segment, lower-case; empty for upload URLs
 * @param appId         the client id of the bearer token; empty when none was accepted
 * @param status        the status answered (0 when the connection was dropped before a status)
 * @param errorCode     Graph's error code when the answer was an error, else empty
 * @param requestBytes  the request body's length as read
 * @param authorization whether an {@code Authorization} header was sent
 */
public record GraphRequest(String method, String path, String mailbox, String appId, int status, String errorCode,
                           long requestBytes, boolean authorization) { }
