package io.mailproxy.core.admin;

import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * What {@code /health} reports on; the daemon implements it over the server runtime and the credentials. Called on
 * the admin endpoint's own thread, never on an event loop that serves mail: it may take a lock, not do I/O.
 */
public interface HealthSource {

    /** True when every configured listener is bound and accepting. */
    boolean listenersUp();

    /** Every configured account, in configuration order. */
    List<AccountHealth> accounts();

    /** The SMTP queue, when there is one: shown in {@code /health}, never a reason for DOWN by itself. */
    default java.util.Optional<StatusReport.Queue> queue() {
        return java.util.Optional.empty();
    }

    static HealthSource of(BooleanSupplier listenersUp, Supplier<List<AccountHealth>> accounts) {
        return new HealthSource() {
            @Override
            public boolean listenersUp() {
                return listenersUp.getAsBoolean();
            }

            @Override
            public List<AccountHealth> accounts() {
                return accounts.get();
            }
        };
    }
}
