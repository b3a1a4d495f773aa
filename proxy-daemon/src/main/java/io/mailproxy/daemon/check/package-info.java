/** {@code ./mailproxy check}: logs in to every account's upstreams and compares capabilities. */
package io.mailproxy.daemon.check;
