/**
 * Benchmarks of mailproxy against a direct TLS client to the same upstream (Dovecot in its own process), run by
 * {@code bench/run.sh}; never part of {@code mvn verify}. Results and their meaning are in docs/BENCHMARKS.md.
 */
package io.mailproxy.bench;
