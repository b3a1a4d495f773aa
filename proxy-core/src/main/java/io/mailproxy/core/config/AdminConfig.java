package io.mailproxy.core.config;

/** The admin HTTP endpoint (/metrics, /health, /status); port 0 disables it. */
public record AdminConfig(boolean enabled, String bind, int port) { }
