package io.mailproxy.daemon.cli;

import io.mailproxy.core.config.ConfigException;
import io.mailproxy.core.config.ConfigLoader;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.daemon.Daemon;
import io.mailproxy.daemon.systemd.SdNotify;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import sun.misc.Signal;

/** {@code mailproxy run}: the daemon in the foreground, as systemd runs it. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Run the daemon in the foreground. SIGTERM/SIGINT stop it gracefully (exit 0); SIGHUP reloads "
                + "the configuration without dropping listeners or sessions.")
public final class RunCommand implements Callable<Integer> {

    private static final Logger log = LoggerFactory.getLogger(RunCommand.class);

    @Mixin
    ConfigOption config;

    @Override
    public Integer call() throws Exception {
        Path file = config.resolve();
        MailproxyConfig cfg = ConfigLoader.load(file);
        ConfigLoader.warnings(cfg).forEach(w -> log.warn("{}", w));
        Daemon daemon = Daemon.start(cfg, System.getenv());
        return serveUntilSignalled(daemon, () -> ConfigLoader.load(file));
    }

    interface ConfigSource {
        MailproxyConfig load();
    }

    /**
     * Blocks until SIGTERM or SIGINT, reloading on SIGHUP; returns the exit code. Tells systemd (Type=notify) READY=1
     * now that the listeners are bound, RELOADING=1 then READY=1 around each reload, STOPPING=1 at shutdown.
     */
    static int serveUntilSignalled(Daemon daemon, ConfigSource reloadSource) throws InterruptedException {
        try (SdNotify systemd = SdNotify.fromEnvironment(System.getenv())) {
            CountDownLatch stop = new CountDownLatch(1);
            AtomicBoolean stopping = new AtomicBoolean();
            Signal.handle(new Signal("TERM"), s -> { stopping.set(true); stop.countDown(); });
            Signal.handle(new Signal("INT"), s -> { stopping.set(true); stop.countDown(); });
            Signal.handle(new Signal("HUP"), s -> {
                if (stopping.get()) {
                    return;
                }
                // Signal handlers run on their own thread; reload off it so a second signal is not delayed.
                Thread t = new Thread(() -> reload(daemon, reloadSource, systemd), "mailproxy-reload");
                t.setDaemon(true);
                t.start();
            });
            systemd.ready(serving(daemon));
            stop.await();
            systemd.stopping();
            log.info("shutting down: saying goodbye to clients, draining");
            daemon.close();
            log.info("stopped");
            return ExitCodes.OK;
        }
    }

    private static String serving(Daemon daemon) {
        return "serving " + daemon.boundAddresses().size() + " listener(s)";
    }

    private static synchronized void reload(Daemon daemon, ConfigSource source, SdNotify systemd) {
        systemd.reloading();
        String status = null;
        try {
            MailproxyConfig next = source.load();
            ConfigLoader.warnings(next).forEach(w -> log.warn("{}", w));
            daemon.reload(next);
            log.info("configuration reloaded from {}", next.source());
        } catch (ConfigException e) {
            log.error("reload refused, keeping the running configuration: {}", e.getMessage());
            status = "reload refused (see the log); ";
        } catch (RuntimeException e) {
            log.error("reload failed, keeping the running configuration: {}", e.toString());
            status = "reload failed (see the log); ";
        } finally {
            // READY=1 ends the reload either way: the daemon serves, with the new or the previous configuration
            systemd.ready((status == null ? "" : status) + serving(daemon));
        }
    }
}
