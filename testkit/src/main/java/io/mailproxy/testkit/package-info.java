/**
 * Fakes shared by every module's tests: identity platform, scripted upstream, GreenMail, certificates, and a clock
 * and scheduler moved by hand.
 */
package io.mailproxy.testkit;
