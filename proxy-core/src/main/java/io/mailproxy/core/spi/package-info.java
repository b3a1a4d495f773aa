/** The Frontend SPI: how imap-, pop3- and smtp-frontend plug into the runtime (found with ServiceLoader). */
package io.mailproxy.core.spi;
