package io.mailproxy.imap.upstream;

import io.mailproxy.imap.ImapSettings;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * When and whether the relayed session moves to a fresh connection, and how the move ends: before the upstream's
 * token expires (the hand-over, at a safe point: between commands, or in IDLE, which is ended upstream first) and
 * after the upstream ended the session with a BYE, a reset or silence (the recovery, at a safe point with a complete
 * {@link MessageView}, else the client gets {@code * BYE [UNAVAILABLE]}). {@link Handover} does the move's steps;
 * this judges the safe point, starts them, and logs and counts how they end. The relay owns the phase and the
 * connection: it is told each step ({@link ImapRelay#handingOver}, {@link ImapRelay#recovering},
 * {@link ImapRelay#moved}) or to end the session. Event loop (client) only.
 */
final class SessionMove {

    private static final Logger LOG = LoggerFactory.getLogger(SessionMove.class);
    private static final String EXPIRED = "* BYE [UNAVAILABLE] The mail server session expired, please reconnect\r\n";
    private static final String LOST = "* BYE [UNAVAILABLE] Connection to the mail server was lost, "
            + "please reconnect\r\n";

    private final ImapRelay relay;
    private final Channel client;
    private final Handover handover;
    private final CommandTracker tracker;
    private final CommandIntake intake;
    private final UpstreamResponses responses;
    private final SelectedMailbox mailbox;
    private final ImapSettings settings;
    private final String sessionId;

    SessionMove(ImapRelay relay, Channel client, Handover handover, CommandTracker tracker, CommandIntake intake,
                UpstreamResponses responses, SelectedMailbox mailbox, ImapSettings settings, String sessionId) {
        this.relay = relay;
        this.client = client;
        this.handover = handover;
        this.tracker = tracker;
        this.intake = intake;
        this.responses = responses;
        this.mailbox = mailbox;
        this.settings = settings;
        this.sessionId = sessionId;
    }

    // ---------------------------------------------------------------- token hand-over

    /** Arms the hand-over for before the upstream's token expires (Office 365 then ends the session). */
    void scheduleExpiry() {
        if (!relay.ended()) {
            handover.schedule(client.eventLoop(), relay.upstreamLease().lease().session().tokenExpiresAt(),
                    this::maybeHandover);
        }
    }

    /** Starts the hand-over if one is due and the session is at a safe point (between commands, or in IDLE). */
    void maybeHandover() {
        RelayPhase phase = relay.phase();
        if (!handover.due() || phase.handingOver() || phase == RelayPhase.ENDED || phase == RelayPhase.LOGGING_OUT
                || phase == RelayPhase.THROTTLE_WAIT || phase == RelayPhase.VIEWING || relay.shuttingDown()) {
            return;
        }
        boolean inIdle = inIdle(phase);
        boolean quiet = between() && !phase.upstreamIdling() && tracker.idle() && responses.betweenResponses();
        if (!inIdle && !quiet) {
            return;
        }
        handover.start(inIdle ? tracker.oldest().tag() : null);
        RelayLease upstream = relay.upstreamLease();
        if (upstream.isDirty()) {
            // ENABLE, NOTIFY, CONDSTORE...: session state a fresh connection would not have
            LOG.warn("{} IMAP upstream token expires soon and the session cannot move (it used ENABLE, NOTIFY or "
                    + "CONDSTORE): closing it", sessionId);
            relay.end("token-expired", null, EXPIRED);
            return;
        }
        LOG.info("{} IMAP upstream token expires soon: moving the session to a fresh connection", sessionId);
        relay.handingOver(inIdle);
        if (inIdle) {
            // its tagged OK is swallowed (idleEnded), then switchOver()
            upstream.channel().writeAndFlush(ByteBufUtil.writeUtf8(client.alloc(), "DONE\r\n"));
        } else {
            switchOver();
        }
    }

    /** True when {@code tag} completes the upstream IDLE a hand-over ended: that tagged reply is not the client's. */
    boolean endedIdle(String tag) {
        return relay.phase() == RelayPhase.HANDOVER_ENDING_IDLE && tag.equals(handover.idleTag());
    }

    /** The old connection is idle: hand it to the hand-over, and give the relay the fresh one it returns. */
    void switchOver() {
        RelayLease old = relay.upstreamLease();
        handover.move(old.lease(), mailbox.selection(), old::detach,
                bytes -> relay.onClientLoop(() -> responses.relayMeanwhile(bytes, relay.ended())))
                .whenComplete((moved, error) -> relay.onClientLoop(() -> {
                    if (error == null && !relay.ended()) {
                        relay.moved(moved);
                        return;
                    }
                    if (moved != null) {
                        moved.abandon();
                    }
                    if (!relay.ended()) {
                        LOG.warn("{} IMAP hand-over to a fresh upstream connection failed: {}", sessionId,
                                String.valueOf(Handover.cause(error)));
                        relay.end("token-expired", null, EXPIRED);
                    }
                }));
    }

    // ---------------------------------------------------------------- an upstream that ended the session

    /**
     * The upstream ended the session (a BYE, a reset, a dead connection): at a safe point the session recovers on
     * a fresh connection, else the client gets BYE. {@code token}: the upstream named the token as the reason.
     */
    void recoverOrEnd(String why, boolean token) {
        RelayPhase phase = relay.phase();
        if (phase == RelayPhase.ENDED || phase == RelayPhase.RECOVERING) {
            return; // RECOVERING: the same ending, seen again (a BYE, then the close)
        }
        String unsafe = unsafeToRecover(phase);
        if (unsafe != null) {
            LOG.warn("{} IMAP upstream ended the session ({}); cannot recover ({}): closing the client session",
                    sessionId, why, unsafe);
            handover.countRecovery("not_safe");
            relay.end("upstream-lost", null, LOST);
            return;
        }
        LOG.info("{} IMAP upstream ended the session ({}); recovering on a fresh connection{}", sessionId, why,
                token ? " with a fresh token" : "");
        // an IDLE ended with its connection: it is restarted on the fresh one under the client's tag
        handover.start(phase == RelayPhase.IDLING ? tracker.completed(tracker.oldest().tag()).tag() : null);
        relay.recovering();
        RelayLease upstream = relay.upstreamLease();
        if (token) {
            upstream.lease().tokenRejected();
        }
        upstream.giveBack(true);
        handover.recover(mailbox.selection(), mailbox.clientUids(), client.eventLoop(), sessionId)
                .whenComplete((moved, error) -> relay.onClientLoop(() -> {
            if (error == null && relay.phase() == RelayPhase.RECOVERING) {
                handover.countRecovery("recovered");
                relay.moved(moved);
                return;
            }
            if (moved != null) {
                moved.abandon();
            }
            if (relay.phase() == RelayPhase.RECOVERING) {
                Throwable cause = Handover.cause(error);
                LOG.warn("{} IMAP recovery after the upstream ended the session failed: {}", sessionId,
                        String.valueOf(cause));
                handover.countRecovery(cause instanceof Handover.UidValidityChanged ? "uidvalidity_changed" : "failed");
                relay.end("upstream-lost", null, LOST);
            }
        }));
    }

    /** Why the session cannot recover now, or null when it is at a safe point and can. */
    private String unsafeToRecover(RelayPhase phase) {
        if (settings.recoveryAttempts() == 0 || handover.disabled()) {
            return "recovery is off";
        }
        boolean quiet = between() && phase == RelayPhase.RELAYING && tracker.idle() && responses.betweenResponses();
        if (!inIdle(phase) && !quiet) {
            return "not at a safe point: " + phase + ", " + tracker.inFlight() + " command(s) in flight";
        }
        if (relay.shuttingDown()) {
            return "shutting down";
        }
        if (relay.upstreamLease().isDirty()) {
            return "the session used ENABLE, NOTIFY or CONDSTORE";
        }
        if (mailbox.clientUids() == null) {
            return "no complete sequence-to-UID map of the selected mailbox";
        }
        return null;
    }

    // ---------------------------------------------------------------- safe points

    /** No command half received from the client, none held behind a literal gate. */
    private boolean between() {
        return !intake.receiving() && !tracker.gated();
    }

    /** The client idles, upstream too, and nothing else is in flight. */
    private boolean inIdle(RelayPhase phase) {
        return between() && phase == RelayPhase.IDLING && !handover.awaitsIdleContinuation()
                && tracker.inFlight() == 1;
    }
}
