package io.mailproxy.testkit;

import io.mailproxy.testkit.ScriptedUpstream.Dialect;
import io.mailproxy.testkit.ScriptedUpstream.Security;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * What the three Office 365 dialect scripts share: the builder they install their responders on, the port's security,
 * the {@link Office365Tenant} that decides logins, the quirks a test switches on (read when a command arrives, so they
 * may be set after the script is installed) and the SASL response parsing.
 */
abstract class Office365Script {

    final ScriptedUpstream.Builder builder;
    final Security security;
    final Office365Tenant tenant;
    /** See {@link Office365#injectAfterStartTls}. */
    volatile String injectAfterStartTls = "";
    /** See {@link Office365#notConnectedAfterLogin}. */
    volatile boolean notConnectedAfterLogin;
    /** See {@link Office365#xoauth2ErrorChallenge}. */
    volatile boolean errorChallenge;

    Office365Script(ScriptedUpstream.Builder builder, Security security, Office365Tenant tenant) {
        this.builder = builder;
        this.security = security;
        this.tenant = tenant;
    }

    /** The script of {@code dialect}, its responders installed on a new builder for a port of {@code security}. */
    static Office365Script install(Dialect dialect, Security security, TestCertificates.ServerCert cert,
            Office365Tenant tenant) {
        ScriptedUpstream.Builder builder = ScriptedUpstream.builder(dialect).security(security, cert);
        Office365Script script = switch (dialect) {
            case SMTP -> new Office365Smtp(builder, security, tenant);
            case IMAP -> new Office365Imap(builder, security, tenant);
            case POP3 -> new Office365Pop3(builder, security, tenant);
            default -> throw new IllegalArgumentException(dialect.toString());
        };
        script.install();
        return script;
    }

    /** Sets the greeting and the responders of every verb on {@link #builder}. */
    abstract void install();

    /** {@code [user, token]} from a base64 XOAUTH2 response, or null if malformed. */
    static String[] parseXoauth2(String b64) {
        String s = decode(b64);
        if (s == null) {
            return null;
        }
        String user = null;
        String token = null;
        for (String part : s.split("\u0001")) {
            if (part.startsWith("user=")) {
                user = part.substring(5);
            } else if (part.startsWith("auth=Bearer ")) {
                token = part.substring("auth=Bearer ".length());
            }
        }
        return user == null || token == null || !s.endsWith("\u0001\u0001") ? null : new String[] {user, token};
    }

    /** {@code [authcid, password]} from a base64 PLAIN response, or null if malformed. */
    static String[] parsePlain(String b64) {
        String s = decode(b64);
        if (s == null) {
            return null;
        }
        String[] p = s.split("\u0000", -1);
        return p.length == 3 ? new String[] {p[1], p[2]} : null;
    }

    static String decode(String b64) {
        try {
            return new String(Base64.getDecoder().decode(b64.trim()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    static String encode(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }
}
