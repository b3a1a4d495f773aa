/**
 * An in-process fake of Microsoft Graph's mail API ({@link io.mailproxy.testkit.graph.FakeGraph}) over HTTPS, for the
 * Graph client, the SMTP and POP3 frontends' tests and interop. Each behaviour cites the Microsoft document it models
 * (microsoftgraph/microsoft-graph-docs-contrib, "MGDC") or docs/research/graph-evidence.md; "(U)" marks what could not
 * be confirmed and "(O)" what is only observed by users.
 */
package io.mailproxy.testkit.graph;
