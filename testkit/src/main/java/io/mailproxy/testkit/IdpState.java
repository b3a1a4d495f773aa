package io.mailproxy.testkit;

import io.mailproxy.testkit.FakeIdentityPlatform.TokenRequest;
import java.net.URI;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * What the fake identity platform knows, shared by its endpoints: registered clients and users, the tokens it issued,
 * how it is set up (time, lifetimes, rotation, faults), and what it has seen.
 */
final class IdpState {

    record Client(String id, Optional<String> secret, Optional<X509Certificate> certificate) { }

    record IssuedAccessToken(String clientId, Optional<String> user, String scope, Instant expiresAt) { }

    /** @param reason why it no longer works ("revoked", "inactive", "used"), or null */
    record IssuedRefreshToken(String clientId, String user, String scope, String reason) { }

    private final SecureRandom random = new SecureRandom();
    volatile Supplier<Instant> clock = Instant::now;
    volatile Duration expiresIn = Duration.ofSeconds(3599);
    volatile boolean rotateRefreshTokens = true;
    volatile boolean invalidateUsedRefreshTokens = true;
    volatile int failureStatus;
    volatile int deviceCodeIntervalSeconds = 5;
    volatile int deviceCodeLifetimeSeconds = 900;
    volatile String signedInUser;
    /** {@code http://127.0.0.1:PORT}, once the server is bound. */
    volatile URI baseUri;

    final Map<String, Client> clients = new ConcurrentHashMap<>();
    /** Passwords by lower-case user name. */
    final Map<String, String> users = new ConcurrentHashMap<>();
    final Map<String, IssuedAccessToken> accessTokens = new ConcurrentHashMap<>();
    final Map<String, IssuedRefreshToken> refreshTokens = new ConcurrentHashMap<>();
    final Map<String, AtomicInteger> requestsByGrant = new ConcurrentHashMap<>();
    final AtomicInteger requests = new AtomicInteger();
    final List<String> clientAssertionsSeen = new CopyOnWriteArrayList<>();
    final List<TokenRequest> tokenRequests = new CopyOnWriteArrayList<>();
    /**
     * Delegated consent per client and user ({@link #consentKey}): the resource scopes of every interactive sign-in
     * (authorize or device code request). Refresh grants of a user with a recorded consent may only ask for these.
     */
    final Map<String, java.util.Set<String>> consents = new ConcurrentHashMap<>();
    /** The directory's tenant id (the {@code tid} claim), fixed per fake. */
    final String tenantId = UUID.randomUUID().toString();

    static String consentKey(String clientId, String user) {
        return clientId + " " + user.toLowerCase(java.util.Locale.ROOT);
    }

    Instant now() {
        return clock.get();
    }

    URI tokenEndpoint(String tenant) {
        return baseUri.resolve("/" + tenant + "/oauth2/v2.0/token");
    }

    /** A random opaque token part. */
    String opaque() {
        byte[] b = new byte[24];
        random.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /** A user code as the device code flow shows it (nine letters and digits, no look-alikes). */
    String userCode() {
        String alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 9; i++) {
            sb.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return sb.toString();
    }
}
