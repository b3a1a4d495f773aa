/** systemd integration: readiness, reload and stop notifications ({@code sd_notify(3)}, {@code Type=notify}). */
package io.mailproxy.daemon.systemd;
