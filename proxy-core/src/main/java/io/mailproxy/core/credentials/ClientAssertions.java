package io.mailproxy.core.credentials;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.nimbusds.oauth2.sdk.auth.PrivateKeyJWT;
import java.io.IOException;
import java.io.Reader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.UUID;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

/**
 * private_key_jwt client assertions (RFC 7523) as Microsoft expects them: RS256 (or ES256 for an EC key), with the
 * certificate's SHA-1 thumbprint in {@code x5t} and its SHA-256 thumbprint in {@code x5t#S256}, {@code aud} the
 * token endpoint, {@code iss} = {@code sub} = the client id, a fresh {@code jti}, and times from the injected clock.
 * The PEM files are read with Bouncy Castle at each use, so a renewed certificate needs no restart.
 */
final class ClientAssertions {
    static final Duration LIFETIME = Duration.ofMinutes(10);

    private ClientAssertions() { }

    record Credential(X509Certificate certificate, PrivateKey key) { }

    static Credential load(Path certificateFile, Path keyFile) throws TokenException {
        X509Certificate cert = null;
        PrivateKey key = null;
        for (Path file : keyFile.equals(certificateFile) ? new Path[] {certificateFile} : new Path[] {certificateFile, keyFile}) {
            try (Reader reader = Files.newBufferedReader(file, StandardCharsets.US_ASCII);
                 PEMParser parser = new PEMParser(reader)) {
                Object o;
                while ((o = parser.readObject()) != null) {
                    if (o instanceof X509CertificateHolder holder && cert == null) {
                        cert = new JcaX509CertificateConverter().getCertificate(holder);
                    } else if (o instanceof PEMKeyPair pair && key == null) {
                        key = new JcaPEMKeyConverter().getKeyPair(pair).getPrivate();
                    } else if (o instanceof PrivateKeyInfo info && key == null) {
                        key = new JcaPEMKeyConverter().getPrivateKey(info);
                    }
                }
            } catch (IOException | GeneralSecurityException e) {
                // the exception text of a PEM parser can quote the file: keep only its type
                throw new TokenException(TokenException.Reason.CONFIGURATION, "cannot read PEM file " + file + ": "
                        + e.getClass().getSimpleName() + (e instanceof java.nio.file.NoSuchFileException ? " (no such file)" : ""),
                        null, java.util.List.of(), null);
            }
        }
        if (cert == null) {
            throw new TokenException(TokenException.Reason.CONFIGURATION, "no certificate found in " + certificateFile);
        }
        if (key == null) {
            throw new TokenException(TokenException.Reason.CONFIGURATION, "no unencrypted private key found in " + keyFile
                    + " (PKCS#8 or PKCS#1 PEM; an encrypted key must be decrypted first, e.g. openssl pkcs8 -nocrypt)");
        }
        return new Credential(cert, key);
    }

    @SuppressWarnings("deprecation") // x5t (SHA-1) is deprecated in JOSE, but Entra ID still looks for it
    static PrivateKeyJWT create(Credential credential, String clientId, URI tokenEndpoint, Instant now)
            throws TokenException {
        try {
            byte[] der = credential.certificate().getEncoded();
            boolean ec = credential.key() instanceof ECPrivateKey;
            JWSHeader header = new JWSHeader.Builder(ec ? JWSAlgorithm.ES256 : JWSAlgorithm.RS256)
                    .type(JOSEObjectType.JWT)
                    .x509CertThumbprint(Base64URL.encode(MessageDigest.getInstance("SHA-1").digest(der)))
                    .x509CertSHA256Thumbprint(Base64URL.encode(MessageDigest.getInstance("SHA-256").digest(der)))
                    .build();
            JWTClaimsSet claims = new JWTClaimsSet.Builder()
                    .issuer(clientId)
                    .subject(clientId)
                    .audience(tokenEndpoint.toString())
                    .jwtID(UUID.randomUUID().toString())
                    .issueTime(Date.from(now))
                    .notBeforeTime(Date.from(now))
                    .expirationTime(Date.from(now.plus(LIFETIME)))
                    .build();
            SignedJWT jwt = new SignedJWT(header, claims);
            JWSSigner signer = ec ? new ECDSASigner((ECPrivateKey) credential.key()) : new RSASSASigner(credential.key());
            jwt.sign(signer);
            return new PrivateKeyJWT(jwt);
        } catch (GeneralSecurityException | JOSEException e) {
            throw new TokenException(TokenException.Reason.CONFIGURATION, "cannot sign a client assertion for client "
                    + clientId + ": " + e.getClass().getSimpleName(), null, java.util.List.of(), e);
        }
    }
}
