/**
 * SMTP through Microsoft Graph: one message's submission ({@code sendMail} of the MIME as it is, or a MIME draft
 * whose recipients are set to the SMTP envelope's and then sent), shared by pass-through and the queue; the
 * envelope-versus-header recipient rules (RFC 5321 3.3: the envelope decides), and Graph's errors as SMTP replies
 * (RFC 3463 enhanced codes).
 */
package io.mailproxy.smtp.graph;
