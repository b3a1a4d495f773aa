/** One configurable fake of proxy-core's {@code spi} (core services, listener, pools, leases) for the frontends' tests. */
package io.mailproxy.testkit.core;
