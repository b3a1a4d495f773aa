/** Logging safety net: masks anything shaped like a credential before Logback writes it. */
package io.mailproxy.daemon.logging;
