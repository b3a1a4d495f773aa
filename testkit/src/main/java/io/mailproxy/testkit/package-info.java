/**
 * Fakes shared by every module's tests: identity platform, scripted upstream, GreenMail, certificates, and a clock
 * and scheduler moved by hand; Microsoft Graph's mail API in {@code io.mailproxy.testkit.graph}.
 */
package io.mailproxy.testkit;
