package dev.agentspend.platform;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.CountDownLatch;

/**
 * Runs the durable embedded PostgreSQL of the local platform until stopped (SIGTERM or Ctrl-C).
 * Used by {@code ./agentspend up}: {@code LocalDatabaseMain <data-dir> <port> <database> <ready-file>}.
 * The ready file is written once the database accepts connections, with its JDBC URL.
 */
public final class LocalDatabaseMain {
    private LocalDatabaseMain() {
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        if (args.length != 4) {
            System.err.println("usage: LocalDatabaseMain <data-dir> <port> <database> <ready-file>");
            System.exit(2);
        }
        File dataDir = new File(args[0]);
        int port = Integer.parseInt(args[1]);
        String database = args[2];
        Path readyFile = Path.of(args[3]);
        Files.createDirectories(dataDir.toPath());

        EmbeddedDatabase db = EmbeddedDatabase.durable(dataDir, port).start();
        db.createDatabase(database);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            db.stop();
            stopped.countDown();
        }, "embedded-postgres-stop"));

        Path tmp = readyFile.resolveSibling(readyFile.getFileName() + ".tmp");
        Files.writeString(tmp, db.jdbcUrl(database) + "\n");
        Files.move(tmp, readyFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        System.out.println("embedded PostgreSQL ready on port " + db.port() + " (data in " + dataDir
                + ", fsync and synchronous_commit on)");
        stopped.await();
    }
}
