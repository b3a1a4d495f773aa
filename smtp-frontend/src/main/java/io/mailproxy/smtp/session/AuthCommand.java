package io.mailproxy.smtp.session;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.ClientConfig.SmtpPolicy;
import io.mailproxy.core.identity.LocalLogin;
import io.mailproxy.core.runtime.ClientAddress;
import io.mailproxy.core.sasl.ServerMechanism;
import io.mailproxy.smtp.codec.SmtpCommand;
import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * AUTH (RFC 4954): the SASL exchange (core's {@link ServerMechanism}, one per attempt, held by the session while its
 * state is {@link SmtpState#AUTH}) and the local login it ends in; also the fixed client of a listener, logged in at
 * connect.
 */
final class AuthCommand implements Command {

    /** What EHLO offers and AUTH accepts. */
    static final List<String> MECHANISMS = List.of(ServerMechanism.PLAIN, ServerMechanism.LOGIN);

    private static final Logger log = LoggerFactory.getLogger(SmtpSession.class);

    @Override
    public String refusal(SmtpState state) {
        return state == SmtpState.CONNECTED ? SmtpReplies.SEND_EHLO_FIRST : null;
    }

    @Override
    public void handle(SmtpSession s, SmtpCommand cmd) {
        if (s.login() != null || s.listener.fixedClient().isPresent()) {
            s.error(SmtpReplies.ALREADY_AUTHENTICATED);
            return;
        }
        if (s.state() == SmtpState.MAIL) {
            s.error(SmtpReplies.AUTH_IN_MAIL);
            return;
        }
        if (StartTlsCommand.requiredForAuth(s)) {
            s.error(SmtpReplies.STARTTLS_FIRST);
            return;
        }
        String[] parts = cmd.argument().trim().split(" ", -1);
        if (parts[0].isEmpty() || parts.length > 2) {
            s.error(SmtpReplies.AUTH_SYNTAX);
            return;
        }
        ServerMechanism mechanism = ServerMechanism.forName(parts[0], MECHANISMS);
        if (mechanism == null) {
            s.error(SmtpReplies.AUTH_MECHANISM);
            return;
        }
        s.sasl(mechanism);
        step(s, mechanism.start(parts.length == 2 ? parts[1] : null));
    }

    /** A line of the client in the AUTH state: the next SASL response, or {@code *} to cancel. */
    static void respond(SmtpSession s, ServerMechanism mechanism, String line) {
        if (line.equals("*")) {
            s.sasl(null);
            s.error(SmtpReplies.AUTH_CANCELLED);
            return;
        }
        step(s, mechanism.next(line));
    }

    private static void step(SmtpSession s, ServerMechanism.Step step) {
        if (step instanceof ServerMechanism.Challenge challenge) {
            s.send(SmtpReplies.format(SmtpReplies.CHALLENGE, challenge.base64()) + "\r\n");
            return;
        }
        s.sasl(null);
        if (step instanceof ServerMechanism.Malformed malformed) {
            log.info("[{}] AUTH response malformed: {}", s.sid(), malformed.why());
            s.error(SmtpReplies.format(SmtpReplies.CANNOT_DECODE, malformed.why()));
            return;
        }
        if (step instanceof ServerMechanism.Refused refused) {
            log.info("[{}] AUTH refused: {}", s.sid(), refused.why());
            s.error(SmtpReplies.AUTH_INVALID);
            return;
        }
        ServerMechanism.Credentials credentials = (ServerMechanism.Credentials) step;
        s.waitFor(SessionWait.LOGIN_CHECK);
        s.decoder.pause();
        byte[] password = credentials.password();
        String name = credentials.login();
        s.services.authenticator().authenticate(name, password, Protocol.SMTP, ClientAddress.of(s.ctx().channel()))
                .whenComplete((result, failure) -> s.onLoop(() -> {
                    Arrays.fill(password, (byte) 0);
                    s.waitFor(SessionWait.NOTHING);
                    if (s.state() == SmtpState.CLOSED) {
                        return;
                    }
                    loginResult(s, name, result, failure);
                    s.proceed();
                }));
    }

    /** The reply to AUTH once the local login is checked (on the event loop, the session still open). */
    private static void loginResult(SmtpSession s, String name, LocalLogin result, Throwable failure) {
        if (result instanceof LocalLogin.Accepted accepted) {
            loggedIn(s, accepted, "AUTH");
            s.reply(SmtpReplies.AUTH_OK);
        } else if (result instanceof LocalLogin.Rejected rejected) {
            log.info("[{}] AUTH failed for {}: {}", s.sid(), printable(name), rejected.reason());
            loginFailed(s, SmtpReplies.AUTH_INVALID);
        } else if (result instanceof LocalLogin.Throttled throttled) {
            // LocalIdentities logs the penalty once per name and interval: no line per attempt here
            log.debug("[{}] AUTH for {} slowed down: {}", s.sid(), printable(name), throttled.reason());
            loginFailed(s, SmtpReplies.AUTH_SLOWED_DOWN);
        } else {
            log.warn("[{}] AUTH for {} could not be checked: {}", s.sid(), printable(name),
                    String.valueOf(SmtpSession.unwrap(failure)));
            s.reply(SmtpReplies.AUTH_TEMPORARY);
        }
    }

    /** A failed login's reply; at {@code limits.max-login-failures} the connection ends (OpenSSH's MaxAuthTries). */
    private static void loginFailed(SmtpSession s, String line) {
        s.error(line);
        int failures = s.countLoginFailure();
        if (failures >= s.services.authenticator().maxLoginFailures()) {
            log.info("[{}] connection closed after {} failed logins", s.sid(), failures);
            io.mailproxy.core.runtime.SessionLog.outcome(s.ctx().channel(), "login-failures");
            s.goodbye(s.hosted(SmtpReplies.TOO_MANY_LOGIN_FAILURES));
        }
    }

    /** The listener's fixed client is logged in at connect, without AUTH. */
    static void loginFixed(SmtpSession s, String name) {
        try {
            LocalLogin result = s.services.authenticator().fixed(name, Protocol.SMTP);
            if (result instanceof LocalLogin.Accepted accepted) {
                loggedIn(s, accepted, "fixed client of " + s.listener.config().describe());
            } else {
                log.warn("[{}] fixed client {} of listener {} cannot send: {}", s.sid(), name,
                        s.listener.config().describe(), ((LocalLogin.Rejected) result).reason());
            }
        } catch (RuntimeException e) {
            log.warn("[{}] fixed client {} of listener {} could not be resolved: {}", s.sid(), name,
                    s.listener.config().describe(), e.toString());
        }
    }

    private static void loggedIn(SmtpSession s, LocalLogin.Accepted accepted, String how) {
        s.login(accepted);
        s.listener.authenticated(s.ctx().channel());
        io.mailproxy.core.runtime.SessionLog.identify(s.ctx().channel(), accepted.client().login(),
                accepted.account().name());
        SmtpPolicy policy = accepted.client().smtp();
        log.info("[{}] client {} logged in ({}), account {}, sender {}", s.sid(), accepted.client().login(), how,
                accepted.account().name(), policy.sender().name().toLowerCase(java.util.Locale.ROOT));
        s.sinks.check(s.sid(), accepted);
    }

    private static String printable(String login) {
        String s = login.length() > 64 ? login.substring(0, 64) + "..." : login;
        return s.replaceAll("[\\p{Cntrl}]", "?");
    }
}
