/** {@code ./mailproxy demo}: the daemon against an embedded GreenMail TLS upstream with a demo account. */
package io.mailproxy.daemon.demo;
