package io.mailproxy.core.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class PasswordHasherTest {

    @Test
    void hashIsAPhcStringWithTheDefaultParameters() {
        String phc = PasswordHasher.hash("correct horse".getBytes(StandardCharsets.UTF_8));
        assertThat(phc).matches("\\$argon2id\\$v=19\\$m=19456,t=2,p=1\\$[A-Za-z0-9+/]{22}\\$[A-Za-z0-9+/]{43}");
        assertThat(PasswordHasher.memoryKiB(phc)).isEqualTo(19456);
    }

    @Test
    void roundTrip() {
        String phc = PasswordHasher.hash("correct horse".getBytes(StandardCharsets.UTF_8));
        assertThat(PasswordHasher.verify("correct horse".getBytes(StandardCharsets.UTF_8), phc)).isTrue();
        assertThat(PasswordHasher.verify("correct horsE".getBytes(StandardCharsets.UTF_8), phc)).isFalse();
        assertThat(PasswordHasher.verify(new byte[0], phc)).isFalse();
    }

    @Test
    void saltIsFreshEveryTime() {
        byte[] pw = "same".getBytes(StandardCharsets.UTF_8);
        assertThat(PasswordHasher.hash(pw)).isNotEqualTo(PasswordHasher.hash(pw));
    }

    @Test
    void charsAreHashedAsUtf8() {
        String phc = PasswordHasher.hash("Grüße €".toCharArray());
        assertThat(PasswordHasher.verify("Grüße €".getBytes(StandardCharsets.UTF_8), phc)).isTrue();
    }

    /**
     * The reference implementation's own example (phc-winner-argon2: {@code echo -n password | argon2 somesalt -id
     * -t 2 -m 16 -p 4 -l 32 -e}): 64 MiB, 4 lanes, an 8-byte salt — none of them our defaults, so this passes only
     * if verification honours the parameters in the string.
     */
    @Test
    void verifiesTheReferenceImplementationsVectorWithItsOwnParameters() {
        String reference = "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo";
        assertThat(PasswordHasher.verify("password".getBytes(StandardCharsets.US_ASCII), reference)).isTrue();
        assertThat(PasswordHasher.verify("passwore".getBytes(StandardCharsets.US_ASCII), reference)).isFalse();
        // the same salt and tag with other parameters no longer match
        assertThat(PasswordHasher.verify("password".getBytes(StandardCharsets.US_ASCII),
                reference.replace("t=2", "t=3"))).isFalse();
    }

    @Test
    void cheapParametersRoundTripThroughTheFormat() {
        PasswordHasher.Phc params = new PasswordHasher.Phc(64, 1, 2, "saltsalt".getBytes(StandardCharsets.US_ASCII),
                new byte[16]);
        byte[] tag = PasswordHasher.argon2("pw".getBytes(StandardCharsets.US_ASCII), params);
        String phc = new PasswordHasher.Phc(64, 1, 2, params.salt(), tag).format();
        assertThat(phc).startsWith("$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHQ$");
        PasswordHasher.Phc parsed = PasswordHasher.parse(phc);
        assertThat(parsed.memoryKiB()).isEqualTo(64);
        assertThat(parsed.iterations()).isEqualTo(1);
        assertThat(parsed.parallelism()).isEqualTo(2);
        assertThat(parsed.hash()).isEqualTo(tag);
        assertThat(PasswordHasher.verify("pw".getBytes(StandardCharsets.US_ASCII), phc)).isTrue();
    }

    @Test
    void malformedHashesAreRefusedWithoutRepeatingThem() {
        String good = "$argon2id$v=19$m=19456,t=2,p=1$6TsaO6x0d/1VHi+RMFHh3g$UzixO+oXxpcFtCrdeC54+jfzIIxoxVzWNORFsE8jKNI";
        assertRefused("hunter2", "must start with $argon2id$");
        assertRefused(good.replace("argon2id", "argon2i"), "must start with $argon2id$");
        assertRefused(good.replace("v=19", "v=16"), "version 19");
        assertRefused(good.replace("m=19456", "m=4194304"), "m must be");
        assertRefused(good.replace("t=2", "t=0"), "t must be");
        assertRefused(good.replace("p=1", "p=99"), "p must be");
        assertRefused(good.replace(",t=2", ""), "m=<KiB>,t=<passes>,p=<lanes>");
        assertRefused(good.replace("$6TsaO6x0d", "$6Tsa!O6x0d"), "base64");
        assertRefused(good + "$extra", "5 $-separated fields");
    }

    private static void assertRefused(String phc, String reason) {
        assertThatThrownBy(() -> PasswordHasher.memoryKiB(phc))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(reason)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain(phc));
    }
}
