package io.mailproxy.imap.upstream;

import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.imap.ImapResponseLine;
import io.mailproxy.core.imap.ImapStatus;
import io.mailproxy.core.pool.Lease;
import io.mailproxy.core.pool.UpstreamPools;
import io.mailproxy.core.runtime.SessionLog;
import io.mailproxy.imap.ImapSettings;
import io.mailproxy.imap.codec.ImapCommandDecoder;
import io.mailproxy.imap.policy.ClientPolicy;
import io.mailproxy.imap.session.ImapState;
import io.mailproxy.imap.upstream.CommandTracker.InFlight;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Relays a logged-in IMAP session between the client and a leased upstream connection, both ways, streaming and
 * with backpressure (AUTO_READ off on both; a side is read only while the other is writable). It is the bridge
 * between the pieces that know the protocol: {@link CommandIntake} frames and judges the client's commands,
 * {@link CommandTracker} holds what is in flight and behind literal gates, {@link ResponseFilter} rewrites and
 * filters untagged responses, {@link SelectedMailbox} follows the selected mailbox and the client's view of it,
 * {@link SessionMove} decides when the session moves to a fresh connection ({@link Handover} does the steps) before
 * the token expires or after the upstream ended the session, and {@link ThrottleRetry} holds a throttled command.
 * The relay's own state is one {@link RelayPhase}: every change of it happens here, as those pieces report.
 *
 * <p>Client tags pass through unchanged. LOGOUT is answered here and the lease released (dirty after ENABLE,
 * NOTIFY and the like, or discarded when a command was in flight). An upstream that drops or says BYE while the
 * client is at a safe point (in IDLE, or nothing in flight) is recovered from on a fresh connection; otherwise, or
 * when that fails, the client gets {@code * BYE [UNAVAILABLE]}. A command Office 365 throttles is sent again after
 * the suggested wait when that is safe, else answered {@code NO [UNAVAILABLE]}. All state lives on the client
 * channel's event loop; upstream events hop there.
 */
public final class ImapRelay {

    public static final String CLIENT_HANDLER = "imap-relay";
    static final String UPSTREAM_DECODER = "imap-response-decoder";
    static final String UPSTREAM_HANDLER = "imap-relay-upstream";

    private static final Logger LOG = LoggerFactory.getLogger(ImapRelay.class);

    private final Channel client;
    private final ImapSettings settings;
    private final String sessionId;
    private final CommandTracker tracker;
    private final CommandIntake intake;
    private final UpstreamResponses responses;
    private final SelectedMailbox mailbox;
    private final Handover handover;
    /** When the session moves to a fresh connection (token hand-over, recovery), and how the move ends. */
    private final SessionMove moves;
    /** Office 365 throttled a command: it may wait in {@link RelayPhase#THROTTLE_WAIT} to be sent again. */
    private final ThrottleRetry retry;
    private RelayLease upstream;
    private RelayClientHandler clientSide;
    private RelayPhase phase = RelayPhase.RELAYING;
    private String logoutTag;
    /** The daemon is shutting down: the session ends at its next safe point. */
    private boolean shutdownPending;

    private ScheduledFuture<?> idleTimer;
    /** When the upstream last sent anything, or a command was sent with none running (the event loop's ticker). */
    private long lastProgress;

    private ImapRelay(Channel client, ImapCommandDecoder decoder, Lease lease, ClientPolicy policy, ImapSettings settings,
                      String sessionId, UpstreamPools pools, AccountConfig account, Clock clock, MeterRegistry meters) {
        this.client = client;
        this.mailbox = new SelectedMailbox(settings.maxMessageView());
        this.settings = settings;
        this.sessionId = sessionId;
        this.upstream = new RelayLease(lease, RelayLease.Use.UNUSED);
        // with a policy, every literal waits for the upstream's "+": an upstream that does not read it (a command that
        // takes no literal there, a BAD before it) must never get its bytes, which it would run as a command unjudged
        this.tracker = new CommandTracker(b -> upstream.write(b), policy.readOnly() || policy.restrictsFolders());
        tracker.upstreamLiteralPlus(upstream.hasCapability("LITERAL+"));
        this.intake = new CommandIntake(this, tracker, decoder, policy, settings, sessionId);
        this.responses = new UpstreamResponses(this, client, tracker, mailbox, policy, settings, sessionId);
        this.handover = new Handover(settings, pools, account, clock, meters);
        this.retry = new ThrottleRetry(settings, sessionId);
        this.moves = new SessionMove(this, client, handover, tracker, intake, responses, mailbox, settings, sessionId);
    }

    /**
     * Starts relaying. Called on the client's event loop after login; the caller has removed its own handler (or
     * replaces {@code replacedHandler} with the relay) and passes the messages it decoded but did not yet handle.
     */
    public static ImapRelay start(Channel client, String replacedHandler, ImapCommandDecoder decoder, Lease lease,
                                  ClientPolicy policy, ImapSettings settings, String sessionId, List<Object> pending,
                                  UpstreamPools pools, AccountConfig account, Clock clock, MeterRegistry meters) {
        ImapRelay relay = new ImapRelay(client, decoder, lease, policy, settings, sessionId, pools, account, clock,
                meters);
        relay.clientSide = new RelayClientHandler(relay, client, pending);
        decoder.setMaxLiteral(settings.maxLiteral());
        client.pipeline().replace(replacedHandler, CLIENT_HANDLER, relay.clientSide);
        relay.attach(relay.upstream);
        relay.touch();
        relay.moves.scheduleExpiry();
        if (!relay.upstream.channel().isActive()) {
            relay.upstreamLost("upstream connection closed before the relay started");
            return relay;
        }
        relay.upstream.channel().read();
        relay.clientSide.drain();
        return relay;
    }

    public ImapState state() {
        return mailbox.state();
    }

    // ---------------------------------------------------------------- client side

    /** A client message the session is ready for (see {@link RelayClientHandler}); the intake releases it. */
    void dispatch(Object msg) {
        intake.onMessage(msg);
    }

    /** Client input waits: the phase holds it, or a literal gate does. */
    boolean paused() {
        return phase.holdsClientInput() || tracker.gated();
    }

    boolean ended() {
        return phase == RelayPhase.ENDED;
    }

    /** The upstream connection the session is on now. */
    Channel upstream() {
        return upstream.channel();
    }

    /** The lease of the connection the session is on now, with what the session did to it. */
    RelayLease upstreamLease() {
        return upstream;
    }

    /** The daemon is shutting down: the session ends at its next safe point and moves no more. */
    boolean shuttingDown() {
        return shutdownPending;
    }

    void shutdown() {
        shutdownPending = true;
        if (phase.upstreamIdling()) {
            SessionLog.outcome(client, "shutdown");
            goodbye("* BYE [UNAVAILABLE] Server shutting down\r\n", true);
        } else {
            tryFinish();
        }
    }

    void clientGone() {
        if (!ended()) {
            LOG.debug("{} IMAP client went away", sessionId);
            finish(false); // finish() discards unless the upstream was idle
        }
    }

    void clientFailed(Throwable cause) {
        LOG.debug("{} IMAP client connection failed", sessionId, cause);
        finish(true);
    }

    // ---------------------------------------------------------------- what the intake reports

    RelayPhase phase() {
        return phase;
    }

    /** The client sent DONE: its IDLE ends once the upstream completes it. */
    void idleDone() {
        phase = RelayPhase.RELAYING;
    }

    /** LOGOUT: answered here once nothing is in flight. */
    void logout(String tag) {
        logoutTag = tag;
        phase = RelayPhase.LOGGING_OUT;
        tryFinish();
    }

    /** A command allowed by the policy is about to go upstream; {@code dirties}: the pool could not reset it. */
    void sending(InFlight command, boolean dirties) {
        if (tracker.idle()) {
            lastProgress = client.eventLoop().ticker().nanoTime(); // the wait for a reply starts now
        }
        tracker.sent(command);
        if (command.name().equals("SELECT") || command.name().equals("EXAMINE")) {
            mailbox.selecting();
        }
        if (command.name().equals("IDLE")) {
            phase = RelayPhase.IDLE_REQUESTED; // idling only once the upstream says "+"
        }
        if (dirties) {
            upstream.dirty();
        }
    }

    /** A reply of the proxy's own: never inside an upstream response being relayed (a literal, a FETCH, a LIST). */
    void writeLocal(String text) {
        responses.writeOwn(ascii(text));
    }

    /** Ends the session for what the client did: {@code outcome} logged, {@code lastReply} then {@code bye} sent. */
    void end(String outcome, String lastReply, String bye) {
        if (outcome != null) {
            SessionLog.outcome(client, outcome);
        }
        if (lastReply != null) {
            client.write(ascii(lastReply));
        }
        goodbye(bye, true);
    }

    // ---------------------------------------------------------------- upstream side

    void onUpstream(Object msg) {
        if (phase == RelayPhase.ENDED || phase == RelayPhase.RECOVERING) {
            ReferenceCountUtil.release(msg); // RECOVERING: the rest of a connection the upstream ended
            return;
        }
        lastProgress = client.eventLoop().ticker().nanoTime();
        responses.onMessage(msg);
    }

    /** The upstream ended the session. */
    void upstreamSaidBye(String text) {
        // Office 365: "* BYE Session invalidated - AccessTokenExpired" names the token (research-o365 section 2)
        boolean token = text.contains("Session invalidated") || text.contains("AccessToken");
        moves.recoverOrEnd("upstream said " + text, token);
    }

    /** A continuation request from the upstream. */
    void continuation(ImapResponseLine line) {
        if (handover.takeIdleContinuation()) {
            moves.maybeHandover(); // the "+ idling" of an IDLE restarted after a hand-over
        } else if (tracker.awaitsContinuation()) {
            // our own synchronizing literal (the client already had its "+"): what waited behind it goes
            boolean open = tracker.openGate();
            upstream.channel().flush();
            if (open) {
                clientSide.drain();
            }
        } else {
            client.write(line.content().retain());
            if (phase == RelayPhase.IDLE_REQUESTED) {
                phase = RelayPhase.IDLING;
                moves.maybeHandover();
                if (!phase.handingOver()) {
                    clientSide.drain();
                }
            }
        }
    }

    /** The upstream completed command {@code f} (null: one it was not sent) with {@code line}. */
    void completed(ImapResponseLine line, InFlight f) {
        ImapStatus status = line.status();
        if (f != null && mailbox.viewFetched(f.tag(), status == ImapStatus.OK)) {
            phase = RelayPhase.RELAYING; // the proxy's own UID FETCH: the client's commands go on
            clientSide.drain();
            upstream.channel().flush(); // an IDLE that waited: drain() flushes only when nothing holds input
            tryFinish();
            moves.maybeHandover();
            return;
        }
        if (moves.endedIdle(line.tag())) {
            // the old connection's IDLE, ended by us for a hand-over: the client's IDLE goes on
            phase = RelayPhase.HANDING_OVER;
            moves.switchOver();
            return;
        }
        UpstreamThrottle throttle = f != null ? UpstreamThrottle.of(line) : null;
        if (throttle != null) {
            boolean alone = phase == RelayPhase.RELAYING && !shutdownPending && tracker.idle() && !tracker.gated();
            if (retry.holdBack(f, throttle, status, upstream.lease(), alone, client.eventLoop(), this::sendAgain)) {
                phase = RelayPhase.THROTTLE_WAIT;
                return; // the client sees nothing of it
            }
            client.write(ascii(throttle.reply(f.tag())));
        } else if (f != null && f.examine() && line.isFirst()) {
            // the client asked for SELECT: keep the reply consistent with what it sent
            client.write(ascii(line.text().replaceFirst("(?i)\\bEXAMINE\\b", "SELECT") + "\r\n"));
        } else {
            client.write(line.content().retain());
        }
        if (f != null && status != null) {
            mailbox.completed(f.name(), f.examine(), f.mailbox(), status);
            if (f.name().equals("IDLE") && phase == RelayPhase.IDLING) {
                phase = RelayPhase.RELAYING;
            } else if (f.name().equals("IDLE") && phase == RelayPhase.IDLE_REQUESTED) {
                phase = RelayPhase.RELAYING; // the upstream refused IDLE: what the client sent next is a command
                clientSide.drain();
            }
            if (tracker.gatedBy(f)) {
                if (!intake.completedWhileGated(f, status)) {
                    return; // the upstream did not read the literal we hold: the session ended
                }
                clientSide.drain();
            }
        }
        tryFinish();
        moves.maybeHandover();
        maybeFetchView();
    }

    /** After a SELECT, once nothing is in flight: the proxy's own UID FETCH fills the message view; input waits. */
    private void maybeFetchView() {
        if (!mailbox.viewWanted() || phase != RelayPhase.RELAYING || !tracker.idle() || tracker.gated()
                || intake.receiving() || !responses.betweenResponses() || shutdownPending || handover.due()) {
            return;
        }
        String tag = mailbox.viewFetch(tracker::isInFlight);
        lastProgress = client.eventLoop().ticker().nanoTime();
        tracker.sent(new InFlight(tag, "UID FETCH"));
        phase = RelayPhase.VIEWING;
        upstream.write(ascii(SelectedMailbox.viewFetchCommand(tag)));
        upstream.channel().flush();
    }

    /** The wait of the throttled command ({@link ThrottleRetry}) is over: it goes again, then what the client sent. */
    private void sendAgain() {
        if (phase != RelayPhase.THROTTLE_WAIT) {
            return;
        }
        InFlight again = retry.takeAgain();
        phase = RelayPhase.RELAYING;
        sending(again, false);
        tracker.write(Unpooled.wrappedBuffer(again.resend()));
        upstream.channel().flush();
        clientSide.drain();
    }

    // ---------------------------------------------------------------- endings

    /** LOGOUT or shutdown at the next safe point: no command in flight and none half received. */
    private void tryFinish() {
        if (phase == RelayPhase.ENDED || !tracker.idle() || tracker.gated()) {
            return;
        }
        if (phase == RelayPhase.LOGGING_OUT) {
            SessionLog.outcome(client, "logout");
            client.write(ascii("* BYE Logging out\r\n"));
            client.write(ascii(logoutTag + " OK LOGOUT completed\r\n"));
            mailbox.loggedOut();
            finish(false);
            client.writeAndFlush(client.alloc().buffer(0)).addListener(ChannelFutureListener.CLOSE);
        } else if (shutdownPending && !intake.receiving()) {
            SessionLog.outcome(client, "shutdown");
            goodbye("* BYE [UNAVAILABLE] Server shutting down\r\n", false);
        }
    }

    private void goodbye(String bye, boolean discard) {
        mailbox.loggedOut();
        finish(discard);
        client.writeAndFlush(ascii(bye)).addListener(ChannelFutureListener.CLOSE);
    }

    void upstreamLost(String why) {
        moves.recoverOrEnd(why, false);
    }

    /**
     * Ends the relay and returns the lease: released when the upstream is idle (dirty if the session did what the
     * pool cannot undo), discarded otherwise.
     */
    private void finish(boolean discard) {
        if (phase == RelayPhase.ENDED) {
            return;
        }
        boolean idle = tracker.idle() && !intake.receiving() && !tracker.gated() && !phase.upstreamIdling()
                && responses.betweenResponses();
        boolean close = discard || !idle || phase.handingOver();
        if (phase == RelayPhase.THROTTLE_WAIT) {
            client.write(ascii(retry.cancel())); // the command waited to be sent again: it gets its answer first
        }
        phase = RelayPhase.ENDED;
        if (idleTimer != null) {
            idleTimer.cancel(false);
        }
        handover.cancel();
        intake.release();
        tracker.dropGated();
        responses.release();
        clientSide.release();
        LOG.debug("{} IMAP relay ends: lease {}", sessionId, upstream.fate(close));
        upstream.giveBack(close);
    }

    /** (Re)starts the authenticated idle timer. */
    void touch() {
        if (idleTimer != null) {
            idleTimer.cancel(false);
        }
        long nanos = settings.idleTimeout().toNanos();
        idleTimer = client.eventLoop().schedule(this::idleTimeout, nanos, TimeUnit.NANOSECONDS);
    }

    private void idleTimeout() {
        if (phase == RelayPhase.ENDED) {
            return;
        }
        boolean idling = phase.upstreamIdling();
        if (phase == RelayPhase.RECOVERING) {
            touch(); // bounded by recovery-attempts
            return;
        }
        if (!idling && !tracker.idle()
                && client.eventLoop().ticker().nanoTime() - lastProgress >= settings.idleTimeout().toNanos()) {
            // a command running with not one byte from the upstream for the whole idle timeout: the connection is
            // dead without saying so (or a literal waits for a "+" that never comes); the client would wait for ever
            upstreamLost("no reply to " + tracker.oldest().tag() + " for " + settings.idleTimeout());
            return;
        }
        if (idling || !tracker.idle() || intake.receiving() || phase == RelayPhase.THROTTLE_WAIT) {
            touch(); // IDLE and running commands are not idleness
            return;
        }
        LOG.info("{} IMAP session idle for {}, logging out", sessionId, settings.idleTimeout());
        SessionLog.outcome(client, "idle-timeout");
        goodbye("* BYE Autologout; idle for too long\r\n", false);
    }

    // ---------------------------------------------------------------- token hand-over

    /** A hand-over starts ({@link SessionMove}): in IDLE, the upstream's IDLE is ended first. */
    void handingOver(boolean endingIdle) {
        phase = endingIdle ? RelayPhase.HANDOVER_ENDING_IDLE : RelayPhase.HANDING_OVER;
    }

    /** The upstream ended the session and a fresh connection is sought ({@link SessionMove}). */
    void recovering() {
        phase = RelayPhase.RECOVERING;
    }

    /** Tells the client what changed between the two views, and moves the relay to the new connection. */
    void moved(Handover.Moved moved) {
        if (!moved.changes().isEmpty()) {
            client.write(ascii(moved.changes()));
        }
        moved.retireOld();
        RelayLease next = new RelayLease(moved.lease(), RelayLease.Use.USED); // the hand-over selected a mailbox on it
        upstream = next;
        tracker.upstreamLiteralPlus(next.hasCapability("LITERAL+"));
        next.channel().eventLoop().execute(() -> {
            moved.imap().detach();
            attach(next);
            next.channel().read();
        });
        mailbox.moved(moved.uids());
        String idleTag = handover.idleTag();
        phase = idleTag == null ? RelayPhase.RELAYING : RelayPhase.IDLING;
        if (idleTag != null) {
            // the client is still in IDLE: idle on the new connection under the client's own tag
            next.channel().writeAndFlush(ascii(idleTag + " IDLE\r\n"));
            tracker.sent(new InFlight(idleTag, "IDLE"));
            handover.idleRestarted();
        }
        client.flush();
        LOG.info("{} IMAP session moved to a fresh upstream connection", sessionId);
        moves.scheduleExpiry();
        clientSide.drain();
    }

    // ---------------------------------------------------------------- plumbing

    private ByteBuf ascii(String s) {
        return ByteBufUtil.writeUtf8(client.alloc(), s);
    }

    void onClientLoop(Runnable r) {
        if (client.eventLoop().inEventLoop()) {
            r.run();
        } else {
            client.eventLoop().execute(r);
        }
    }

    private void attach(RelayLease lease) {
        lease.attach(new RelayUpstreamHandler(this, lease.channel(), client, clientSide), settings.maxLineLength());
    }
}
