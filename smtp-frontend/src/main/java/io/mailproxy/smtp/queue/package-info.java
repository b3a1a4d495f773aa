/**
 * SMTP store-and-forward: the durable spool (messages stored dot-stuffed exactly as the client sent them, RFC 5321
 * 4.5.2, so they go upstream byte for byte), group-committed fsyncs, and the paced delivery worker with retries,
 * deferrals and RFC 3464 delivery status notifications.
 */
package io.mailproxy.smtp.queue;
