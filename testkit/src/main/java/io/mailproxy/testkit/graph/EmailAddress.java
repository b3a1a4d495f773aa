package io.mailproxy.testkit.graph;

/** Graph's {@code emailAddress} ({@code name} may be empty). */
record EmailAddress(String name, String address) { }
