package dev.agentspend.platform;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One AgentSpend service running as its own JVM from its built {@code quarkus-run.jar}: how tests
 * of one service run the real other services it talks to (over real gRPC on loopback), and how
 * fault tests kill and restart them.
 */
public final class ServiceProcess implements AutoCloseable {
    private final String module;
    private final int httpPort;
    private final List<String> command;
    private final Map<String, String> environment;
    private final Path logFile;
    private Process process;

    private ServiceProcess(String module, int httpPort, List<String> command, Map<String, String> environment,
                           Path logFile) {
        this.module = module;
        this.httpPort = httpPort;
        this.command = command;
        this.environment = environment;
        this.logFile = logFile;
    }

    /**
     * Prepares the service built by the Maven module {@code module} (for example
     * {@code identity-service}) on {@code httpPort}, with extra environment (database URLs,
     * tokens). Its output goes to {@code target/service-logs/<module>-<port>.log} of the calling
     * module.
     */
    public static ServiceProcess of(String module, int httpPort, Map<String, String> environment) {
        Path log = Path.of("target", "service-logs", module + "-" + httpPort + ".log").toAbsolutePath();
        return of(module, httpPort, environment, List.of("-Xmx256m", "-XX:+UseSerialGC"), log);
    }

    /**
     * The same with the JVM options and the log file chosen by the caller: how the benchmark runs
     * the services with the launcher's options ({@code -Xmx384m -XX:+UseParallelGC} or {@code AGENTSPEND_JAVA_OPTS})
     * and keeps their logs beside its own data.
     */
    public static ServiceProcess of(String module, int httpPort, Map<String, String> environment,
                                    List<String> jvmOptions, Path logFile) {
        Path jar = repositoryRoot().resolve(module).resolve("target/quarkus-app/quarkus-run.jar");
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException(jar + " is missing: build " + module
                    + " first (mvn -pl " + module + " -am package -DskipTests)");
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>();
        command.add(java);
        command.addAll(jvmOptions);
        command.addAll(List.of("-Dquarkus.http.port=" + httpPort, "-jar", jar.toString()));
        return new ServiceProcess(module, httpPort, command, Map.copyOf(environment), logFile.toAbsolutePath());
    }

    /**
     * A TCP port free on loopback right now, for a service a test starts: fixed ports would
     * collide when two modules' tests run at the same time.
     */
    public static int freePort() {
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException("no free port on loopback", e);
        }
    }

    /** The repository root: the nearest parent folder holding both pom.xml and proto/. */
    public static Path repositoryRoot() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null) {
            if (Files.isRegularFile(dir.resolve("pom.xml")) && Files.isDirectory(dir.resolve("proto"))) {
                return dir;
            }
            dir = dir.getParent();
        }
        throw new IllegalStateException("not inside the AgentSpend repository: " + Path.of("").toAbsolutePath());
    }

    public synchronized ServiceProcess start() {
        if (process != null && process.isAlive()) {
            return this;
        }
        try {
            Files.createDirectories(logFile.getParent());
            ProcessBuilder pb = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
            pb.environment().putAll(environment);
            Process started = pb.start();
            process = started;
            // a test JVM that exits without stopping its services (a forked JVM timed out, say)
            // must not leave them running: they would hold their ports for the next run
            Runtime.getRuntime().addShutdownHook(new Thread(started::destroyForcibly, module + "-reaper"));
            return this;
        } catch (IOException e) {
            throw new IllegalStateException("could not start " + module + ": " + e.getMessage(), e);
        }
    }

    /** Waits until {@code /q/health/ready} answers UP; fails with the log's location otherwise. */
    public ServiceProcess awaitReady(Duration timeout) {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
        HttpRequest ready = HttpRequest.newBuilder(URI.create("http://localhost:" + httpPort + "/q/health/ready"))
                .timeout(Duration.ofSeconds(2)).build();
        long deadlineNanos = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadlineNanos) {
            if (process == null || !process.isAlive()) {
                throw new IllegalStateException(module + " exited during start-up; see " + logFile);
            }
            try {
                if (http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return this;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for " + module, e);
            }
            sleepQuietly(100);
        }
        throw new IllegalStateException(module + " was not ready within " + timeout + "; see " + logFile);
    }

    /** Graceful stop (SIGTERM), waiting for the process to exit. */
    public synchronized void stop() {
        if (process == null) {
            return;
        }
        process.destroy();
        waitForExit();
    }

    /**
     * The lines this service has logged at ERROR so far. Outages, restarts and shutdowns are logged
     * as warnings; an ERROR is a bug or something an operator must act on, so tests require none.
     */
    public List<String> errorLines() {
        try (java.util.stream.Stream<String> lines = Files.lines(logFile)) {
            return lines.filter(l -> l.contains(" ERROR ")).toList();
        } catch (java.nio.file.NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("could not read " + logFile, e);
        }
    }

    /** Sends SIGTERM and returns at once, as Kubernetes does to a pod it stops; see {@link #awaitExit}. */
    public synchronized void signalStop() {
        if (process != null) {
            process.destroy();
        }
    }

    /** Waits up to {@code timeout} for the process to exit; true if it has (or never ran). */
    public boolean awaitExit(Duration timeout) throws InterruptedException {
        Process p;
        synchronized (this) {
            p = process;
        }
        return p == null || p.waitFor(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    /** Abrupt stop (SIGKILL): no shutdown hook runs, as in a crash. */
    public synchronized void kill() {
        if (process == null) {
            return;
        }
        process.destroyForcibly();
        waitForExit();
    }

    public synchronized boolean isAlive() {
        return process != null && process.isAlive();
    }

    public long pid() {
        return process.pid();
    }

    public int httpPort() {
        return httpPort;
    }

    public Path logFile() {
        return logFile;
    }

    private void waitForExit() {
        try {
            if (!process.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        process = null;
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        stop();
    }
}
