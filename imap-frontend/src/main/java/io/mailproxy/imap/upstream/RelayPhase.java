package io.mailproxy.imap.upstream;

/**
 * Where a relayed session is. The relay changes it in one place per event (a command sent, the upstream's "+" or
 * tagged completion, a hand-over's steps, the end); the selected mailbox is {@link SelectedMailbox}'s.
 */
enum RelayPhase {
    /** Commands flow both ways, any number in flight. */
    RELAYING,
    /** IDLE sent, the upstream's "+" not yet seen: client input waits (the upstream may refuse IDLE). */
    IDLE_REQUESTED,
    /** The upstream idles for the client: only DONE may come from it (RFC 2177). */
    IDLING,
    /** A hand-over sent DONE for the client's IDLE; the tagged OK it awaits is not the client's. */
    HANDOVER_ENDING_IDLE,
    /** A hand-over moves the session to a fresh connection; client input waits. */
    HANDING_OVER,
    /**
     * The upstream throttled the only command in flight and it is sent again after the suggested wait: client input
     * waits, so the command keeps its place.
     */
    THROTTLE_WAIT,
    /**
     * The upstream ended the session at a safe point: a fresh connection is being sought; client input waits, and
     * whatever the old connection still sends is dropped.
     */
    RECOVERING,
    /** The proxy's own {@code UID FETCH 1:* (UID)} after a SELECT runs (for the message view); client input waits. */
    VIEWING,
    /** LOGOUT received: answered once nothing is in flight; client input waits. */
    LOGGING_OUT,
    /** The lease is given back and everything held released; input is dropped. */
    ENDED;

    /** Client input is held back (in the relay's backlog) while in this phase. */
    boolean holdsClientInput() {
        return this == IDLE_REQUESTED || this == HANDOVER_ENDING_IDLE || this == HANDING_OVER || this == THROTTLE_WAIT
                || this == RECOVERING || this == VIEWING || this == LOGGING_OUT;
    }

    /** The upstream connection is in IDLE. */
    boolean upstreamIdling() {
        return this == IDLING || this == HANDOVER_ENDING_IDLE;
    }

    boolean handingOver() {
        return this == HANDOVER_ENDING_IDLE || this == HANDING_OVER || this == RECOVERING;
    }
}
