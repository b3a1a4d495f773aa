/**
 * The admin HTTP endpoint (HTTP/1.1, RFC 9112, one request per connection, on loopback unless configured):
 * {@code /metrics} in the Prometheus text exposition format, {@code /health} and {@code /status} in JSON
 * (RFC 8259). The daemon passes in a {@link io.mailproxy.core.admin.HealthSource} and a
 * {@link io.mailproxy.core.admin.StatusSource}.
 */
package io.mailproxy.core.admin;
