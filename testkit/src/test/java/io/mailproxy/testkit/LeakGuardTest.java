package io.mailproxy.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import org.junit.jupiter.api.Test;

class LeakGuardTest {

    @Test
    void aDroppedBufferIsReported() throws Exception {
        leak();
        for (int i = 0; i < 20 && LeakGuard.leaks().isEmpty(); i++) {
            System.gc();
            Thread.sleep(10);
            ByteBufAllocator.DEFAULT.buffer(8).release();
        }
        assertThat(LeakGuard.leaks()).isNotEmpty();
        // Clear it, or the guard would (rightly) fail this class.
        new LeakGuard().beforeAll(null);
    }

    private static void leak() {
        ByteBuf buf = ByteBufAllocator.DEFAULT.buffer(64);
        buf.writeInt(1);
    }
}
