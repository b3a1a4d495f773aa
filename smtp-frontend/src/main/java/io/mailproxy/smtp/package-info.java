/**
 * SMTP submission frontend (RFC 5321, 4954, 2920, 1870, 6152, 6531, 2034, 3207): plugs into the runtime through
 * {@link io.mailproxy.smtp.SmtpFrontendFactory}.
 */
package io.mailproxy.smtp;
