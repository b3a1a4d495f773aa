package io.mailproxy.core.config;

/**
 * The admin HTTP endpoint (/metrics, /health, /status). {@code admin.enabled = false} turns it off; port 0 picks a
 * free port (tests).
 */
public record AdminConfig(boolean enabled, String bind, int port) { }
