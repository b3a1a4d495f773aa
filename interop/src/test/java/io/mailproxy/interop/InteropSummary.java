package io.mailproxy.interop;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;

/**
 * Prints the suite's summary, {@code interop: N passed, M failed}, when the test plan ends. Every test method is one
 * check; a failed class-level setup counts as one failed check. Registered through
 * {@code META-INF/services/org.junit.platform.launcher.TestExecutionListener}.
 */
public final class InteropSummary implements TestExecutionListener {

    private final AtomicInteger passed = new AtomicInteger();
    private final AtomicInteger failed = new AtomicInteger();
    private final List<String> failures = new CopyOnWriteArrayList<>();
    private final List<String> skipped = new CopyOnWriteArrayList<>();
    private long started;
    private volatile TestPlan plan;

    @Override
    public void testPlanExecutionStarted(TestPlan plan) {
        this.plan = plan;
        started = System.nanoTime();
    }

    /** "CurlIT > imapFetchIsByteIdentical(int) > 1024 bytes": the display names from the class down. */
    private String name(TestIdentifier id) {
        StringBuilder b = new StringBuilder(id.getDisplayName());
        TestPlan p = plan;
        TestIdentifier cur = id;
        while (p != null) {
            java.util.Optional<TestIdentifier> parent = p.getParent(cur);
            if (parent.isEmpty() || parent.get().getParentId().isEmpty()) {
                break;
            }
            cur = parent.get();
            b.insert(0, cur.getDisplayName() + " > ");
        }
        return b.toString();
    }

    @Override
    public void executionSkipped(TestIdentifier id, String reason) {
        skipped.add(name(id) + ": " + reason);
    }

    @Override
    public void executionFinished(TestIdentifier id, TestExecutionResult result) {
        boolean ok = result.getStatus() == TestExecutionResult.Status.SUCCESSFUL;
        if (id.isTest()) {
            if (ok) {
                passed.incrementAndGet();
            } else {
                failed.incrementAndGet();
                failures.add(name(id) + ": " + result.getThrowable().map(InteropSummary::firstLine).orElse(""));
            }
        } else if (!ok && id.getSource().isPresent()) {
            failed.incrementAndGet();
            failures.add(name(id) + " (set-up or tear-down): "
                    + result.getThrowable().map(InteropSummary::firstLine).orElse(""));
        }
    }

    /** The failure's message on one line (AssertJ's span several), at most 300 characters. */
    private static String firstLine(Throwable t) {
        String s = t.toString().strip().replaceAll("\\s*\\R\\s*", " ");
        return s.length() > 300 ? s.substring(0, 300) + "…" : s;
    }

    @Override
    public void testPlanExecutionFinished(TestPlan plan) {
        if (passed.get() + failed.get() + skipped.size() == 0) {
            return;
        }
        StringBuilder b = new StringBuilder();
        for (String f : failures) {
            b.append("interop: FAILED ").append(f).append('\n');
        }
        for (String s : skipped) {
            b.append("interop: skipped ").append(s).append('\n');
        }
        b.append(String.format("interop: %d passed, %d failed (%d skipped, %d s)%n", passed.get(), failed.get(),
                skipped.size(), (System.nanoTime() - started) / 1_000_000_000L));
        System.out.print(b);
        System.out.flush();
    }
}
