/**
 * The private control socket ({@code <state-dir>/control.sock}, 0600): lets {@code secret}, {@code login},
 * {@code status} and {@code queue} reach a running daemon, so they never race its writes to the secret store and need
 * no access to the master key that only the service sees.
 */
package io.mailproxy.daemon.control;
