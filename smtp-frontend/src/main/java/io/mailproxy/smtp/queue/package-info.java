/**
 * SMTP store-and-forward: the durable spool (messages stored dot-stuffed exactly as the client sent them, RFC 5321
 * 4.5.2, so they go upstream byte for byte), group-committed fsyncs, and the paced delivery worker with retries
 * (RFC 5321 4.5.4.1), deferrals and bounces: RFC 3464 delivery status notifications in an RFC 6522
 * multipart/report, marked per RFC 3834, from the null reverse-path (RFC 5321 4.5.5).
 */
package io.mailproxy.smtp.queue;
