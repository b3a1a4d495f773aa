package io.mailproxy.interop;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs a real client program with a time limit and captures what it printed. */
final class Proc {

    /** What the program did. */
    record Result(List<String> command, int exit, byte[] stdout, String stderr) {
        String out() {
            return new String(stdout, StandardCharsets.UTF_8);
        }

        /** For assertion messages: the command, its exit code and everything it printed. */
        String describe() {
            String o = out();
            return String.join(" ", command) + "\nexit " + exit + "\n--- stdout ---\n"
                    + (o.length() > 4000 ? o.substring(0, 4000) + "…" : o)
                    + "\n--- stderr ---\n" + (stderr.length() > 8000 ? stderr.substring(stderr.length() - 8000) : stderr);
        }
    }

    private Proc() {
    }

    static Result run(Duration timeout, byte[] stdin, Map<String, String> env, Path cwd, List<String> command)
            throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command);
        if (cwd != null) {
            pb.directory(cwd.toFile());
        }
        pb.environment().putAll(env);
        Process p = pb.start();
        CompletableFuture<byte[]> out = drain(p.getInputStream());
        CompletableFuture<byte[]> err = drain(p.getErrorStream());
        try (OutputStream in = p.getOutputStream()) {
            if (stdin != null) {
                in.write(stdin);
            }
        } catch (IOException e) {
            // the program may exit without reading its input; what it printed says why
        }
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
                return new Result(command, -1, out.getNow(new byte[0]),
                        "TIMED OUT after " + timeout + "\n" + new String(err.getNow(new byte[0]), StandardCharsets.UTF_8));
            }
            return new Result(command, p.exitValue(), out.get(10, TimeUnit.SECONDS),
                    new String(err.get(10, TimeUnit.SECONDS), StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException(e);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IOException(e);
        }
    }

    static Result run(Duration timeout, List<String> command) throws IOException {
        return run(timeout, null, Map.of(), null, command);
    }

    private static CompletableFuture<byte[]> drain(InputStream in) {
        CompletableFuture<byte[]> f = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try (in) {
                f.complete(in.readAllBytes());
            } catch (IOException e) {
                f.complete(new byte[0]);
            }
        }, "proc-drain");
        t.setDaemon(true);
        t.start();
        return f;
    }
}
