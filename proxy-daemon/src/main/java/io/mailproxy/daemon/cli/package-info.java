/** The command line (picocli): run, demo, check, login, secret, hash-password, status, queue. */
package io.mailproxy.daemon.cli;
