package dev.agentspend.platform;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Comparator;
import java.util.Objects;

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
    private final File deleteOnClose;
    private EmbeddedPostgres server;
    private int port;

    private EmbeddedDatabase(EmbeddedPostgres.Builder builder, int port, File deleteOnClose) {
        this.builder = builder;
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
        return new EmbeddedDatabase(b, port, null);
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
        return new EmbeddedDatabase(b, 0, dir);
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
