package dev.agentspend.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The command line of {@code ./agentspend bench}.
 *
 * <pre>
 *   --agents N        agents of the fleet (default 1000)
 *   --clients K       concurrent clients, one outstanding Pay each (default 64)
 *   --rate N          offer N payments/s in phases A and B (1 to 100000): each client sends one call every
 *                     K / N s (the clients evenly offset), or on the previous answer if that comes later;
 *                     latency counts from the scheduled time. Default: closed loop (the next call on the
 *                     answer). Per-payment CPU depends on the rate, so compare builds at one fixed rate
 *   --duration S      measured seconds of each phase, and of pgbench (default 20)
 *   --warmup S        seconds before each phase's measurement, discarded (default 180: C2 is still compiling
 *                     the services' hot paths a minute into the load)
 *   --skip-pgbench    do not run pgbench (pgbench_tps=n/a)
 *   --state-dir DIR   where runs keep their data and logs (default .agentspend/bench)
 *   --keep-data       keep the run's PostgreSQL data directory (deleted by default)
 *   --task-calls N    payments carry a task id: each agent's tasks are N payments long, and the client whose
 *                     payment is a task's last completes it (CompleteTask) before its next call. Default 0:
 *                     no task ids, as the figures before this option were measured
 * </pre>
 */
public record BenchOptions(int agents, int clients, Duration duration, Duration warmup, boolean skipPgbench,
                           Path stateDir, boolean keepData, boolean statements, OptionalInt ratePerSecond,
                           int taskCalls) {
    public static final int MAX_TASK_CALLS = 10_000;

    public static final String USAGE = "./agentspend bench [--agents N] [--clients K] [--rate PAYMENTS_PER_SECOND]"
            + " [--duration SECONDS] [--warmup SECONDS] [--skip-pgbench] [--state-dir DIR] [--keep-data] [--statements]"
            + " [--task-calls N]";

    public BenchOptions {
        require(agents >= 2 && agents <= 100_000, "--agents must be 2 to 100000");
        require(clients >= 1 && clients <= 1024, "--clients must be 1 to 1024");
        require(!duration.isNegative() && duration.getSeconds() >= 1 && duration.getSeconds() <= 3600,
                "--duration must be 1 to 3600 seconds");
        require(!warmup.isNegative() && warmup.getSeconds() <= 600, "--warmup must be 0 to 600 seconds");
        require(ratePerSecond.isEmpty() || (ratePerSecond.getAsInt() >= Pacing.MIN_RATE_PER_SECOND
                        && ratePerSecond.getAsInt() <= Pacing.MAX_RATE_PER_SECOND),
                "--rate must be " + Pacing.MIN_RATE_PER_SECOND + " to " + Pacing.MAX_RATE_PER_SECOND + " payments per second");
        require(taskCalls >= 0 && taskCalls <= MAX_TASK_CALLS, "--task-calls must be 0 (no task ids) to " + MAX_TASK_CALLS);
    }

    /** The payment phases' schedule with --rate; empty: the closed loop. */
    Optional<Pacing> pacing() {
        return ratePerSecond.isEmpty() ? Optional.empty() : Optional.of(new Pacing(ratePerSecond.getAsInt(), clients));
    }

    /** What the payments carry, for the report's header line. */
    String tasks() {
        return taskCalls == 0 ? "no task ids" : "task ids, " + taskCalls + " payments per task, each task completed";
    }

    /** How the payment phases send, for the report's header lines. */
    String mode() {
        return ratePerSecond.isEmpty() ? "closed loop"
                : "fixed rate of " + ratePerSecond.getAsInt() + " payments/s offered";
    }

    /** Parses the arguments; {@link IllegalArgumentException} with a message a person can act on. */
    public static BenchOptions parse(String[] args, Path defaultStateDir) {
        int agents = 1000;
        int clients = 64;
        long duration = 20;
        // the services still compile with C2 a minute into the load (java.ci.totalTime: the ledger's
        // compilers ran 19.9 s in a 20 s window after 60 s); after 180 s they are idle (0.4 to 1.3 s)
        long warmup = 180;
        boolean skipPgbench = false;
        boolean keepData = false;
        boolean statements = false;
        OptionalInt rate = OptionalInt.empty();
        int taskCalls = 0;
        Path stateDir = defaultStateDir;
        for (int i = 0; i < args.length; i++) {
            String option = args[i];
            switch (option) {
                case "--skip-pgbench" -> skipPgbench = true;
                case "--keep-data" -> keepData = true;
                case "--statements" -> statements = true;
                case "--agents", "--clients", "--rate", "--duration", "--warmup", "--task-calls", "--state-dir" -> {
                    if (i + 1 >= args.length) {
                        throw new IllegalArgumentException(option + " needs a value (" + USAGE + ")");
                    }
                    String value = args[++i];
                    switch (option) {
                        case "--agents" -> agents = number(option, value);
                        case "--clients" -> clients = number(option, value);
                        case "--rate" -> rate = OptionalInt.of(number(option, value));
                        case "--duration" -> duration = number(option, value);
                        case "--warmup" -> warmup = number(option, value);
                        case "--task-calls" -> taskCalls = number(option, value);
                        default -> stateDir = Path.of(value);
                    }
                }
                default -> throw new IllegalArgumentException("unknown option '" + option + "' (" + USAGE + ")");
            }
        }
        return new BenchOptions(agents, clients, Duration.ofSeconds(duration), Duration.ofSeconds(warmup), skipPgbench,
                stateDir, keepData, statements, rate, taskCalls);
    }

    private static int number(String option, String value) {
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " needs a whole number, not '" + value + "'");
        }
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new IllegalArgumentException(message);
        }
    }
}
