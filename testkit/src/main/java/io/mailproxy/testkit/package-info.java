/** Fakes shared by every module's tests: identity platform, scripted upstream, GreenMail and certificates. */
package io.mailproxy.testkit;
