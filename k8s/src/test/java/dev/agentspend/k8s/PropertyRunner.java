package dev.agentspend.k8s;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * A small property-testing harness on plain JUnit 5: checks a property on inputs drawn from seeded
 * {@link SplittableRandom}s and, when one fails, shrinks its list of steps by deleting chunks
 * (halves, quarters, ... single steps; delta debugging) while the property still fails.
 *
 * <p>Seeds: the run's base seed is {@value #SEED_PROPERTY} or random, and try i draws from seed
 * base + i, so try 0 draws from the base itself: running with a failing try's seed and
 * {@value #TRIES_PROPERTY}=1 replays exactly that try. (Neighbouring seeds give unrelated
 * streams: SplittableRandom scrambles its seed; seeds a multiple of its gamma apart would give
 * one stream shifted.) Both seeds are always printed, and
 * a failure says the command. A property whose outcome hangs on timing (hold expiry, the sweeper)
 * replays the same input, not necessarily the same timing.
 *
 * @param <T> the input of one try
 * @param <S> a step of the input, what shrinking deletes
 */
final class PropertyRunner<T, S> {
    static final String SEED_PROPERTY = "agentspend.property.seed";
    static final String TRIES_PROPERTY = "agentspend.property.tries";
    /** Each shrinking attempt reruns the property (a second or so here): bounds them besides the time. */
    static final int MAX_SHRINK_ATTEMPTS = 200;

    /** Thrown by a property that ran past its {@link Deadline}: the run is out of time, not a counterexample. */
    static final class OutOfTime extends RuntimeException {
        OutOfTime() {
            super("ran past its deadline");
        }
    }

    /** When the property must stop; it calls {@link #check()} between its steps. */
    record Deadline(long nanos) {
        static Deadline after(Duration d) {
            return new Deadline(System.nanoTime() + d.toNanos());
        }

        boolean passed() {
            return System.nanoTime() - nanos > 0;
        }

        void check() {
            if (passed()) {
                throw new OutOfTime();
            }
        }

        Deadline earlier(Deadline other) {
            return nanos - other.nanos < 0 ? this : other;
        }
    }

    private final String testName;
    private final Function<SplittableRandom, T> generator;
    private final Function<T, List<S>> steps;
    private final BiFunction<T, List<S>, T> withSteps;
    private final BiConsumer<T, Deadline> property;

    /**
     * @param testName  Class#method, for the reproduction command
     * @param generator draws one input from a seeded random source (and nothing else)
     * @param steps     the input's steps
     * @param withSteps the same input with fewer steps (every sublist must be a valid input)
     * @param property  throws (an AssertionError, or any RuntimeException) when the input breaks it
     */
    PropertyRunner(String testName, Function<SplittableRandom, T> generator, Function<T, List<S>> steps,
                   BiFunction<T, List<S>, T> withSteps, BiConsumer<T, Deadline> property) {
        this.testName = testName;
        this.generator = generator;
        this.steps = steps;
        this.withSteps = withSteps;
        this.property = property;
    }

    /**
     * Checks the property on {@value #TRIES_PROPERTY} tries (defaultTries if unset), all within
     * timeLimit; a failing try is shrunk for up to shrinkLimit (within timeLimit as well) and
     * reported as an AssertionError, caused by the shrunk input's failure.
     */
    void run(int defaultTries, Duration timeLimit, Duration shrinkLimit) {
        long baseSeed = Long.getLong(SEED_PROPERTY, new SplittableRandom().nextLong());
        int tries = Integer.getInteger(TRIES_PROPERTY, defaultTries);
        long started = System.nanoTime();
        Deadline deadline = Deadline.after(timeLimit);
        System.out.printf("%s: %d tries, base seed %d (-D%s=%d)%n", testName, tries, baseSeed, SEED_PROPERTY, baseSeed);
        long stepsRun = 0;
        for (int i = 0; i < tries; i++) {
            long seed = baseSeed + i;
            T input = generator.apply(new SplittableRandom(seed));
            long tryStarted = System.nanoTime();
            Throwable failure = failureOf(input, deadline);
            if (failure instanceof OutOfTime) {
                throw new AssertionError(String.format("%s ran longer than %s: %d of %d tries passed; the run: %s",
                        testName, timeLimit, i, tries, command(baseSeed, tries)));
            }
            if (failure != null) {
                throw shrunkFailure(i, tries, seed, input, failure, Deadline.after(shrinkLimit).earlier(deadline));
            }
            int stepCount = steps.apply(input).size();
            stepsRun += stepCount;
            System.out.printf("  try %d/%d, seed %d: %d steps passed in %.1f s%n",
                    i + 1, tries, seed, stepCount, seconds(tryStarted));
        }
        System.out.printf("%s: %d tries (%d steps) passed in %.1f s, base seed %d%n",
                testName, tries, stepsRun, seconds(started), baseSeed);
    }

    /** The property's failure on this input, OutOfTime if it ran out of time, null if it held. */
    private Throwable failureOf(T input, Deadline deadline) {
        try {
            property.accept(input, deadline);
            return null;
        } catch (AssertionError | RuntimeException e) {
            return e;
        }
    }

    /** Shrinks the failing input and says what failed, before and after, and how to replay it. */
    private AssertionError shrunkFailure(int index, int tries, long seed, T input, Throwable failure, Deadline deadline) {
        long started = System.nanoTime();
        List<S> smallest = steps.apply(input);
        Throwable smallestFailure = failure;
        int attempts = 0;
        boolean deleted = true;
        sweeps:
        while (deleted) {
            deleted = false;
            for (int chunk = Math.max(1, smallest.size() / 2); ; chunk /= 2) {
                for (int from = 0; from < smallest.size(); ) {
                    if (attempts >= MAX_SHRINK_ATTEMPTS || deadline.passed()) {
                        break sweeps;
                    }
                    List<S> candidate = new ArrayList<>(smallest.subList(0, from));
                    candidate.addAll(smallest.subList(Math.min(smallest.size(), from + chunk), smallest.size()));
                    attempts++;
                    Throwable f = failureOf(withSteps.apply(input, List.copyOf(candidate)), deadline);
                    if (f != null && !(f instanceof OutOfTime)) {
                        smallest = List.copyOf(candidate);
                        smallestFailure = f;
                        deleted = true;
                    } else {
                        from += chunk;
                    }
                }
                if (chunk == 1) {
                    break;
                }
            }
        }
        String message = String.format("%s failed on try %d of %d, seed %d.%n"
                        + "Replay it: %s%n"
                        + "Shrunk from %d to %d steps in %d attempts (%.1f s); the shrunk failure:%n  %s%n"
                        + "Shrunk input:%s%n"
                        + "Original failure:%n  %s%n"
                        + "Original input:%s",
                testName, index + 1, tries, seed, command(seed, 1),
                steps.apply(input).size(), smallest.size(), attempts, seconds(started), smallestFailure,
                withSteps.apply(input, smallest), failure, input);
        AssertionError error = new AssertionError(message, smallestFailure);
        if (smallestFailure != failure) {
            error.addSuppressed(failure);
        }
        return error;
    }

    private String command(long seed, int tries) {
        return String.format("mvn test -pl k8s -Dtest='%s' -D%s=%d -D%s=%d", testName, SEED_PROPERTY, seed, TRIES_PROPERTY, tries);
    }

    private static double seconds(long sinceNanos) {
        return (System.nanoTime() - sinceNanos) / 1e9;
    }
}
