package dev.agentspend.platform;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

/**
 * An embedded PostgreSQL 16 server (zonky binaries from Maven Central; it runs as root).
 *
 * <p>Two profiles: {@link #durable} for a user's local platform (persistent data directory,
 * {@code fsync} and {@code synchronous_commit} on, because the library's defaults turn both off
 * and lose acknowledged commits on a crash) and {@link #throwaway} for tests (fresh directory,
 * the fast settings).
 */
public final class EmbeddedDatabase implements AutoCloseable {
    public static final String USER = "postgres";

    private final EmbeddedPostgres.Builder builder;
    private final File dataDirectory;
    private final File deleteOnClose;
    private EmbeddedPostgres server;
    private int port;

    private EmbeddedDatabase(EmbeddedPostgres.Builder builder, File dataDirectory, int port, File deleteOnClose) {
        this.builder = builder;
        this.dataDirectory = dataDirectory;
        this.port = port;
        this.deleteOnClose = deleteOnClose;
    }

    public static EmbeddedDatabase durable(File dataDirectory, int port) {
        Objects.requireNonNull(dataDirectory, "dataDirectory");
        EmbeddedPostgres.Builder b = EmbeddedPostgres.builder()
                .setDataDirectory(dataDirectory)
                .setCleanDataDirectory(false)
                .setServerConfig("fsync", "on")
                .setServerConfig("synchronous_commit", "on")
                .setServerConfig("full_page_writes", "on")
                .setServerConfig("max_connections", "200")
                .setPGStartupWait(Duration.ofSeconds(60));
        return new EmbeddedDatabase(b, dataDirectory, port, null);
    }

    /** A test server on a free port with a fresh data directory; fast, not crash-safe. */
    public static EmbeddedDatabase throwaway() {
        File dir;
        try {
            dir = Files.createTempDirectory("agentspend-test-pg").toFile();
        } catch (IOException e) {
            throw new IllegalStateException("no temporary directory for the test database", e);
        }
        // kept across stop()/start() so that tests can take the database away and bring it back
        EmbeddedPostgres.Builder b = EmbeddedPostgres.builder()
                .setDataDirectory(dir)
                .setCleanDataDirectory(false)
                .setServerConfig("max_connections", "200")
                .setPGStartupWait(Duration.ofSeconds(60));
        return new EmbeddedDatabase(b, dir, 0, dir);
    }

    /** One more server setting, for the next {@link #start()} (e.g. shared_preload_libraries). */
    public synchronized EmbeddedDatabase withServerConfig(String name, String value) {
        builder.setServerConfig(name, value);
        return this;
    }

    public synchronized EmbeddedDatabase start() {
        if (server != null) {
            return this;
        }
        try {
            if (port > 0) {
                builder.setPort(port);
            }
            server = builder.start();
            port = server.getPort();
            // later restarts keep the same port and data so that clients reconnect by themselves
            builder.setPort(port);
            return this;
        } catch (IOException e) {
            throw new IllegalStateException("embedded PostgreSQL did not start: " + e.getMessage(), e);
        }
    }

    /** Stops the server but keeps its data, so that {@link #start()} brings the same database back. */
    public synchronized void stop() {
        if (server == null) {
            return;
        }
        try {
            server.close();
        } catch (IOException e) {
            throw new IllegalStateException("embedded PostgreSQL did not stop: " + e.getMessage(), e);
        } finally {
            server = null;
        }
    }

    /**
     * Kills the postmaster with SIGKILL, as a crash or the OOM killer would: no shutdown
     * checkpoint, clients' connections cut. Waits until its backends have noticed and exited (they
     * do so by themselves), so that {@link #start()} can bring the same data back after crash
     * recovery. Returns the postmaster's pid.
     */
    public synchronized long crash() {
        if (server == null) {
            throw new IllegalStateException("the database is not running");
        }
        long pid = postmasterPid();
        ProcessHandle postmaster = ProcessHandle.of(pid)
                .orElseThrow(() -> new IllegalStateException("no postmaster process " + pid));
        List<ProcessHandle> backends = postmaster.descendants().toList();
        postmaster.destroyForcibly();
        long deadlineNanos = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        for (ProcessHandle p : Stream.concat(Stream.of(postmaster), backends.stream()).toList()) {
            while (running(p)) {
                if (System.nanoTime() > deadlineNanos) {
                    throw new IllegalStateException("process " + p.pid() + " of the killed postmaster is still alive");
                }
                LockSupport.parkNanos(Duration.ofMillis(20).toNanos());   // poll interval of a bounded wait
            }
        }
        try {
            // releases the library's lock on the data directory; its `pg_ctl stop` finds no server and says so
            server.close();
        } catch (IOException e) {
            // the server is gone already; only the lock file's release could fail here
        } finally {
            server = null;
        }
        return pid;
    }

    /** Alive and not a zombie: an exited child of a parent that does not reap holds no resource. */
    private static boolean running(ProcessHandle p) {
        if (!p.isAlive()) {
            return false;
        }
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(p.pid()), "stat"));
            // the state follows the parenthesised command name, which may itself contain spaces
            return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
        } catch (IOException | RuntimeException e) {
            return p.isAlive();   // no /proc (not Linux) or the process has just gone
        }
    }

    private long postmasterPid() {
        try {
            // postmaster.pid: the first line is the postmaster's process id
            return Long.parseLong(Files.readAllLines(new File(dataDirectory, "postmaster.pid").toPath()).get(0).trim());
        } catch (IOException e) {
            throw new IllegalStateException("no postmaster.pid in " + dataDirectory, e);
        }
    }

    public synchronized boolean isRunning() {
        return server != null;
    }

    public int port() {
        return port;
    }

    public String jdbcUrl(String database) {
        return "jdbc:postgresql://localhost:" + port + "/" + database;
    }

    public String reactiveUrl(String database) {
        return "postgresql://localhost:" + port + "/" + database;
    }

    /** Creates the database if it does not exist yet. */
    public void createDatabase(String database) {
        if (!database.matches("[a-z][a-z0-9_]{0,62}")) {
            throw new IllegalArgumentException("database name must be a lowercase identifier: " + database);
        }
        try (Connection c = DriverManager.getConnection(jdbcUrl("postgres"), USER, "");
             Statement s = c.createStatement()) {
            try (ResultSet rs = s.executeQuery("SELECT 1 FROM pg_database WHERE datname = '" + database + "'")) {
                if (rs.next()) {
                    return;
                }
            }
            s.execute("CREATE DATABASE " + database);
        } catch (SQLException e) {
            throw new IllegalStateException("could not create database " + database + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        stop();
        if (deleteOnClose != null) {
            try (var paths = Files.walk(deleteOnClose.toPath())) {
                paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                // a leftover temporary directory is harmless
            }
        }
    }
}
