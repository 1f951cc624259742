package dev.agentspend.platform;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EmbeddedDatabaseTest {

    @Test
    void localPlatformDatabaseIsDurableAndKeepsItsDataAcrossRestarts(@TempDir Path dataDir) throws Exception {
        int port = freePort();
        try (EmbeddedDatabase db = EmbeddedDatabase.durable(dataDir.toFile(), port).start()) {
            db.createDatabase("agentspend");
            try (Connection c = connect(db); Statement s = c.createStatement()) {
                // the library's defaults are off, which would lose acknowledged commits on a crash
                assertEquals("on", show(s, "fsync"));
                assertEquals("on", show(s, "synchronous_commit"));
                s.execute("CREATE TABLE kept (v int)");
                s.execute("INSERT INTO kept VALUES (42)");
            }
        }
        try (EmbeddedDatabase db = EmbeddedDatabase.durable(dataDir.toFile(), port).start()) {
            db.createDatabase("agentspend");
            try (Connection c = connect(db); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT v FROM kept")) {
                assertTrue(rs.next(), "the row written before the restart is gone");
                assertEquals(42, rs.getInt(1));
            }
        }
    }

    @Test
    void throwawayDatabaseComesBackWithItsDataAfterStopAndStart() throws Exception {
        try (EmbeddedDatabase db = EmbeddedDatabase.throwaway().start()) {
            db.createDatabase("t");
            int port = db.port();
            try (Connection c = connect(db, "t"); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE kept (v int)");
                s.execute("INSERT INTO kept VALUES (7)");
            }
            db.stop();
            db.start();
            assertEquals(port, db.port(), "clients reconnect only if the port stays the same");
            try (Connection c = connect(db, "t"); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT v FROM kept")) {
                assertTrue(rs.next());
                assertEquals(7, rs.getInt(1));
            }
        }
    }

    @Test
    void durableDatabaseKilledWithSigkillComesBackOnItsPortWithEveryCommit(@TempDir Path dataDir) throws Exception {
        try (EmbeddedDatabase db = EmbeddedDatabase.durable(dataDir.toFile(), 0).start()) {
            db.createDatabase("agentspend");
            int port = db.port();
            try (Connection c = connect(db); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE kept (v int)");
                s.execute("INSERT INTO kept VALUES (9)");
            }
            Connection cut = connect(db);
            long pid = db.crash();
            assertTrue(ProcessHandle.of(pid).isEmpty() || !ProcessHandle.of(pid).get().isAlive(), "postmaster still alive");
            assertThrows(SQLException.class, () -> cut.createStatement().execute("SELECT 1"),
                    "a connection to the killed server must fail");
            db.start();
            assertEquals(port, db.port());
            try (Connection c = connect(db); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT v FROM kept")) {
                assertTrue(rs.next(), "a committed row is lost after crash recovery");
                assertEquals(9, rs.getInt(1));
            }
        }
    }

    private static Connection connect(EmbeddedDatabase db) throws SQLException {
        return connect(db, "agentspend");
    }

    private static Connection connect(EmbeddedDatabase db, String database) throws SQLException {
        return DriverManager.getConnection(db.jdbcUrl(database), EmbeddedDatabase.USER, "");
    }

    private static String show(Statement s, String setting) throws SQLException {
        try (ResultSet rs = s.executeQuery("SHOW " + setting)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
