package dev.agentspend.simulator;

import com.google.protobuf.Timestamp;
import dev.agentspend.client.AgentSpendClient;
import dev.agentspend.client.LedgerErrorException;
import dev.agentspend.client.Payment;
import dev.agentspend.client.PaymentDeclinedException;
import dev.agentspend.client.RetryPolicy;
import dev.agentspend.proto.alerts.v1.Alert;
import dev.agentspend.proto.alerts.v1.ConfigScope;
import dev.agentspend.proto.alerts.v1.ListAlertsRequest;
import dev.agentspend.proto.alerts.v1.ListAlertsResponse;
import dev.agentspend.proto.alerts.v1.Rule;
import dev.agentspend.proto.alerts.v1.RuleConfig;
import dev.agentspend.proto.alerts.v1.SetRuleConfigRequest;
import dev.agentspend.proto.identity.v1.AgentMode;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.CreateAgentRequest;
import dev.agentspend.proto.identity.v1.CreateAgentResponse;
import dev.agentspend.proto.identity.v1.CreateTeamRequest;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.identity.v1.WorkingHours;
import dev.agentspend.proto.identity.v1.WorkingInterval;
import dev.agentspend.proto.ledger.v1.CapStatus;
import dev.agentspend.proto.ledger.v1.CompleteTaskRequest;
import dev.agentspend.proto.ledger.v1.CreditRequest;
import dev.agentspend.proto.ledger.v1.DeclineReason;
import dev.agentspend.proto.ledger.v1.Hold;
import dev.agentspend.proto.ledger.v1.TaskOutcome;

import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Creates a fleet through the public admin APIs (a team, agents with caps, working hours and keys,
 * prepaid balances) and drives it through the agent client library for a bounded time: several
 * well-behaved agents and one of each misbehaviour the alert rules catch.
 *
 * <p><b>Time compression.</b> The ledger records every entry at its real time ({@code recorded_time})
 * and counts caps and every "now" alert window on it; an agent may also send {@code occurred_time}
 * (when it did the work). Analytics buckets by occurred time, and the alert service's day-bucketed
 * trend rules (cost per task week over week, daily cap utilization "regularly") count on it when it
 * is at most 15 days before the recorded time. So two weeks of history are replayed in the first
 * seconds as payments and task completions back-dated day by day (1 to 13 days ago). Windows that
 * count on recorded time cannot be back-dated (an agent must not be able to hide spend in the past);
 * for the one misbehaviour that needs a recorded-time baseline, the prompt-injection spike, the
 * demo team gets a shorter spike window through the alert service's {@code SetRuleConfig} (team
 * scope): one rule bucket of the alert service (at least 5 s) instead of 5 minutes, against the
 * last hour. Every other rule runs with its defaults.
 */
public final class FleetSimulator {
    public static final String USD = "USD";
    static final long SPIKE_BASELINE_WINDOW_SECONDS = 3600;

    /** What to run. {@code bucketSeconds} is the alert service's {@code agentspend.alerts.bucket-seconds}. */
    public record Settings(Duration duration, int bucketSeconds, String runId, PrintStream out) {
        public Settings {
            if (duration.isNegative() || duration.isZero() || duration.compareTo(Duration.ofHours(1)) > 0) {
                throw new IllegalArgumentException("duration must be between 1 s and 1 h: " + duration);
            }
            if (bucketSeconds < 1 || bucketSeconds > 3600) {
                throw new IllegalArgumentException("bucketSeconds must be 1..3600: " + bucketSeconds);
            }
            if (!runId.matches("[a-z0-9]{1,12}")) {
                throw new IllegalArgumentException("runId must be 1 to 12 lowercase letters or digits: " + runId);
            }
        }

        /** The spike window the demo team gets: one rule bucket, at least 5 s. */
        long spikeWindowSeconds() {
            return Math.max(bucketSeconds, 5L);
        }

        public static String newRunId() {
            return Long.toString(System.currentTimeMillis() / 1000 % 2_176_782_336L, 36);
        }
    }

    /** The fleet as created: the team and every agent, in creation order. */
    public record Fleet(String teamId, String teamName, List<SimAgent> agents) {
        public List<SimAgent> with(Behaviour b) {
            return agents.stream().filter(a -> a.behaviour() == b).toList();
        }

        public SimAgent one(Behaviour b) {
            List<SimAgent> found = with(b);
            if (found.size() != 1) {
                throw new IllegalStateException("expected one " + b + " agent, found " + found.size());
            }
            return found.get(0);
        }

        public String handleOf(String agentId) {
            return agents.stream().filter(a -> a.id().equals(agentId)).map(SimAgent::handle).findFirst().orElse(agentId);
        }
    }

    /** What the run did, per agent: approved and declined payments, and the first decline reason seen. */
    public static final class Outcome {
        public final Map<String, AtomicLong> approved = new ConcurrentHashMap<>();
        public final Map<String, AtomicLong> declined = new ConcurrentHashMap<>();
        public final Map<String, DeclineReason> firstDecline = new ConcurrentHashMap<>();
        public final List<String> errors = Collections.synchronizedList(new ArrayList<>());

        void approved(SimAgent a) {
            approved.computeIfAbsent(a.id(), k -> new AtomicLong()).incrementAndGet();
        }

        void declined(SimAgent a, DeclineReason r) {
            declined.computeIfAbsent(a.id(), k -> new AtomicLong()).incrementAndGet();
            firstDecline.putIfAbsent(a.id(), r);
        }

        public long approvedOf(SimAgent a) {
            AtomicLong n = approved.get(a.id());
            return n == null ? 0 : n.get();
        }

        public long totalApproved() {
            return approved.values().stream().mapToLong(AtomicLong::get).sum();
        }

        public long totalDeclined() {
            return declined.values().stream().mapToLong(AtomicLong::get).sum();
        }
    }

    private final Platform platform;
    private final Settings settings;
    private final PrintStream out;
    private final Outcome outcome = new Outcome();
    private final Set<String> printedAlerts = ConcurrentHashMap.newKeySet();
    private final AtomicLong lastPosition = new AtomicLong();
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss");

    public FleetSimulator(Platform platform, Settings settings) {
        this.platform = platform;
        this.settings = settings;
        this.out = settings.out();
    }

    public Outcome outcome() {
        return outcome;
    }

    // ------------------------------------------------------------------ the fleet

    /** Creates the team, its spike-window setting, the agents with their keys, and tops them up. */
    public Fleet createFleet() {
        String run = settings.runId();
        String teamName = "demo-" + run;
        String teamId = platform.identityAdmin().createTeam(CreateTeamRequest.newBuilder()
                .setRequestId("sim-" + run + "-team").setName(teamName)
                .setDisplayName("Simulated fleet " + run).setCurrencyCode(USD).build()).getTeam().getId();
        say("created team %s (%s)", teamName, teamId);

        // The one recorded-time window the demo shortens (see the class comment).
        platform.alertsAdmin().setRuleConfig(SetRuleConfigRequest.newBuilder()
                .setRequestId("sim-" + run + "-spike-window")
                .setConfig(RuleConfig.newBuilder().setScope(ConfigScope.CONFIG_SCOPE_TEAM).setScopeId(teamId)
                        .setRule(Rule.RULE_TOOL_SPEND_SPIKE)
                        .putParameters("window_seconds", settings.spikeWindowSeconds())
                        .putParameters("baseline_window_seconds", SPIKE_BASELINE_WINDOW_SECONDS))
                .build());
        say("alert rule TOOL_SPEND_SPIKE for team %s: window %d s against the last %d s (default 300 s against 86400 s)",
                teamName, settings.spikeWindowSeconds(), SPIKE_BASELINE_WINDOW_SECONDS);

        List<SimAgent> agents = new ArrayList<>();
        Cap day50 = cap(CapWindow.CAP_WINDOW_DAY, 50_000_000);
        Cap payment1 = cap(CapWindow.CAP_WINDOW_PAYMENT, 1_000_000);
        WorkingHours daytimeNow = workingHoursWhereLocalHourIs(12, 8 * 60, 20 * 60);
        agents.add(agent(teamId, "support-bot", "Customer support bot", Behaviour.WELL_BEHAVED, List.of(day50, payment1), null));
        agents.add(agent(teamId, "summarizer", "Meeting summarizer", Behaviour.WELL_BEHAVED, List.of(day50, payment1), daytimeNow));
        agents.add(agent(teamId, "code-reviewer", "Code review agent", Behaviour.WELL_BEHAVED, List.of(day50, payment1), null));
        agents.add(agent(teamId, "translator", "Translation agent", Behaviour.WELL_BEHAVED, List.of(day50, payment1), null));
        agents.add(agent(teamId, "research", "Research agent", Behaviour.MODEL_SWAP, List.of(day50, payment1), null));
        agents.add(agent(teamId, "ticket-retrier", "Ticket sync agent", Behaviour.RETRY_LOOP, List.of(day50, payment1), null));
        agents.add(agent(teamId, "browser", "Web browsing agent", Behaviour.HIJACKED, List.of(day50, payment1), null));
        agents.add(agent(teamId, "night-owl", "Report builder (9 to 5)", Behaviour.NIGHT_OWL, List.of(day50, payment1),
                workingHoursWhereLocalHourIs(3, 9 * 60, 17 * 60)));
        for (String n : List.of("loop-a", "loop-b", "loop-c")) {
            agents.add(agent(teamId, n, "Delegating agent " + n.substring(5).toUpperCase(Locale.ROOT),
                    Behaviour.PAYMENT_LOOP, List.of(day50, payment1), null));
        }
        agents.add(agent(teamId, "cap-hugger", "Lead enrichment agent", Behaviour.CAP_HUGGER,
                List.of(cap(CapWindow.CAP_WINDOW_DAY, 1_000_000), payment1), null));

        for (SimAgent a : agents) {
            platform.ledgerAdmin().credit(CreditRequest.newBuilder()
                    .setRequestId("sim-" + run + "-credit-" + a.handle()).setAgentId(a.id())
                    .setAmountMicros(30_000_000).setCurrencyCode(USD).setNote("demo top-up").build());
        }
        say("created %d agents, each topped up with 30.00 USD:", agents.size());
        for (SimAgent a : agents) {
            say("  %-22s %-13s %s", a.handle(), a.behaviour().misbehaves() ? a.behaviour() : "well-behaved",
                    a.behaviour().description());
        }
        return new Fleet(teamId, teamName, List.copyOf(agents));
    }

    private SimAgent agent(String teamId, String name, String display, Behaviour b, List<Cap> caps, WorkingHours hours) {
        String handle = name + "-" + settings.runId();
        CreateAgentRequest.Builder r = CreateAgentRequest.newBuilder()
                .setRequestId("sim-" + settings.runId() + "-agent-" + name).setHandle(handle).setDisplayName(display)
                .setTeamId(teamId).setMode(AgentMode.AGENT_MODE_PRODUCTION).setCurrencyCode(USD)
                .putLabels("fleet", "demo").putLabels("behaviour", b.name().toLowerCase(Locale.ROOT).replace('_', '-'))
                .setPolicy(SpendingPolicy.newBuilder().addAllCaps(caps));
        if (hours != null) {
            r.setWorkingHours(hours);
        }
        CreateAgentResponse created = platform.identityAdmin().createAgent(r.build());
        return new SimAgent(created.getAgent().getId(), handle, b, created.getApiKeySecret());
    }

    private static Cap cap(CapWindow w, long limit) {
        return Cap.newBuilder().setWindow(w).setLimitMicros(limit).setCurrencyCode(USD)
                .setEnforcement(CapEnforcement.CAP_ENFORCEMENT_HARD).build();
    }

    /**
     * Working hours {@code start..end} (minutes, every day) in a fixed-offset IANA zone ({@code Etc/GMT±n})
     * where the local hour is {@code localHour} right now: so "3 a.m." is 3 a.m. on the agent's clock
     * whenever the demo runs.
     */
    static WorkingHours workingHoursWhereLocalHourIs(int localHour, int startMinute, int endMinute) {
        return workingHoursWhereLocalHourIs(localHour, startMinute, endMinute, ZonedDateTime.now(ZoneOffset.UTC).getHour());
    }

    static WorkingHours workingHoursWhereLocalHourIs(int localHour, int startMinute, int endMinute, int utcHour) {
        int offset = Math.floorMod(localHour - utcHour, 24);      // 0..23
        if (offset > 14) {
            offset -= 24;                                         // -9..14: every offset Etc/GMT has
        }
        // Etc/GMT zones have inverted signs: Etc/GMT-3 is UTC+3.
        String zone = offset == 0 ? "Etc/UTC" : offset > 0 ? "Etc/GMT-" + offset : "Etc/GMT+" + (-offset);
        WorkingHours.Builder h = WorkingHours.newBuilder().setTimeZone(zone);
        for (int day = 1; day <= 7; day++) {
            h.addIntervals(WorkingInterval.newBuilder().setDayOfWeek(day).setStartMinute(startMinute).setEndMinute(endMinute));
        }
        return h.build();
    }

    // ------------------------------------------------------------------ the run

    /** Replays two weeks of history, then drives every agent until the duration is over (bounded). */
    public Outcome run(Fleet fleet) throws InterruptedException {
        Instant start = Instant.now();
        say("replaying two weeks of history (back-dated occurred_time, recorded now)...");
        ExecutorService pool = Executors.newFixedThreadPool(fleet.agents().size() + 1, r -> {
            Thread t = new Thread(r, "sim-agent");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> history = new ArrayList<>();
            for (SimAgent a : fleet.agents()) {
                if (a.behaviour() == Behaviour.WELL_BEHAVED || a.behaviour() == Behaviour.MODEL_SWAP) {
                    history.add(pool.submit(() -> guarded(a, () -> history(a))));
                }
            }
            awaitAll(history, Duration.ofMinutes(3));
            say("history replayed in %.1f s; now the fleet runs live for %d s", seconds(start), settings.duration().toSeconds());

            Instant liveStart = Instant.now();
            Instant deadline = liveStart.plus(settings.duration());
            List<Future<?>> live = new ArrayList<>();
            for (SimAgent a : fleet.agents()) {
                Runnable behaviour = switch (a.behaviour()) {
                    case WELL_BEHAVED -> () -> steady(a, fleet, deadline);
                    case MODEL_SWAP -> () -> modelSwap(a, deadline);
                    case RETRY_LOOP -> () -> retryLoop(a, deadline);
                    case HIJACKED -> () -> hijacked(a, liveStart, deadline);
                    case NIGHT_OWL -> () -> nightOwl(a, deadline);
                    case CAP_HUGGER -> () -> capHugger(a, deadline);
                    case PAYMENT_LOOP -> null;
                };
                if (behaviour != null) {
                    live.add(pool.submit(() -> guarded(a, behaviour)));
                }
            }
            List<SimAgent> loop = fleet.with(Behaviour.PAYMENT_LOOP);
            live.add(pool.submit(() -> guarded(loop.get(0), () -> paymentLoop(loop, liveStart, deadline))));
            Future<?> progress = pool.submit(() -> progress(fleet, liveStart, live));
            // the hijack may wait up to one rule bucket past the duration for its baseline to age
            awaitAll(live, settings.duration().plusSeconds(settings.bucketSeconds() + 90L));
            progress.cancel(true);
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(10, TimeUnit.SECONDS);
        }
        say("run finished after %.1f s: %d payments approved, %d declined", seconds(start),
                outcome.totalApproved(), outcome.totalDeclined());
        return outcome;
    }

    /** Every few seconds while agents run: what they did so far, and each alert as soon as it appears. */
    private void progress(Fleet fleet, Instant liveStart, List<Future<?>> live) {
        long every = Math.max(2, Math.min(10, settings.duration().toSeconds() / 6));
        for (int tick = 1; tick < 2000 && live.stream().anyMatch(f -> !f.isDone()); tick++) {
            try {
                TimeUnit.SECONDS.sleep(every);
            } catch (InterruptedException e) {
                return;
            }
            try {
                printNewAlerts(fleet, alerts(fleet));
            } catch (RuntimeException e) {
                say("(alerts not readable right now: %s)", e.getMessage());
            }
            say("+%ds: %d payments approved, %d declined, %d alerts so far", seconds(liveStart) > 0
                            ? Math.round(seconds(liveStart)) : 0, outcome.totalApproved(), outcome.totalDeclined(),
                    printedAlerts.size());
        }
    }

    private void printNewAlerts(Fleet fleet, List<Alert> alerts) {
        for (Alert al : alerts) {
            if (printedAlerts.add(al.getAlertId())) {
                say("ALERT %s %s: %s", al.getRule().name().substring(5), handles(fleet, al), al.getEvidence().getSummary());
            }
        }
    }

    private void awaitAll(List<Future<?>> futures, Duration bound) throws InterruptedException {
        long deadline = System.nanoTime() + bound.toNanos();
        for (Future<?> f : futures) {
            try {
                f.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                outcome.errors.add(String.valueOf(e.getCause()));
            } catch (java.util.concurrent.TimeoutException e) {
                f.cancel(true);
                outcome.errors.add("an agent did not finish within " + bound);
            }
        }
    }

    private void guarded(SimAgent a, Runnable r) {
        try {
            r.run();
        } catch (LedgerErrorException e) {
            outcome.errors.add(a.handle() + ": " + e.getMessage());
            say("%s: ledger error %s", a.handle(), e.getMessage());
        } catch (RuntimeException e) {
            if (!(e.getCause() instanceof InterruptedException)) {
                outcome.errors.add(a.handle() + ": " + e);
                say("%s: %s", a.handle(), e);
            }
        }
    }

    private AgentSpendClient client(SimAgent a) {
        return AgentSpendClient.builder().channel(platform.ledgerChannel()).apiKey(a.apiKey())
                .retryPolicy(RetryPolicy.DEFAULT).build();
    }

    /**
     * Holds an estimate and captures the final amount; counts the outcome. A declined capture leaves
     * its hold open, so it is released. Returns false when declined.
     */
    private boolean holdAndCapture(AgentSpendClient c, SimAgent a, Payment estimate, long finalMicros) {
        Hold h;
        try {
            h = c.hold(estimate, Duration.ofMinutes(5));
        } catch (PaymentDeclinedException d) {
            seen(d.entry());
            outcome.declined(a, d.reason());
            return false;
        }
        try {
            seen(c.capture(h.getHoldId(), finalMicros));
        } catch (PaymentDeclinedException d) {
            seen(d.entry());
            outcome.declined(a, d.reason());
            seen(c.release(h.getHoldId()));
            return false;
        }
        outcome.approved(a);
        return true;
    }

    /** Pays; counts the outcome; returns the decline reason or null when approved. */
    private DeclineReason pay(AgentSpendClient c, SimAgent a, Payment p) {
        try {
            seen(c.pay(p));
            outcome.approved(a);
            return null;
        } catch (PaymentDeclinedException d) {
            seen(d.entry());
            outcome.declined(a, d.reason());
            return d.reason();
        }
    }

    private static final String[] STEADY_TOOLS = {"openai/chat.completions", "anthropic/messages", "web/search"};
    private static final long STEADY_CALL_MICROS = 3_000;
    private static final long WELL_BEHAVED_SPEND_LIMIT = 900_000;

    /** Back-dated history: 13 days, two tasks a day, at a steady cost (the research agent: the model swap). */
    private void history(SimAgent a) {
        Instant now = Instant.now();
        try (AgentSpendClient c = client(a)) {
            int task = 0;
            for (int daysAgo = 13; daysAgo >= 1; daysAgo--) {
                Instant day = now.minus(Duration.ofDays(daysAgo));
                int tasksToday = a.behaviour() == Behaviour.MODEL_SWAP ? (daysAgo == 7 ? 0 : 1) : 2;
                for (int t = 0; t < tasksToday; t++) {
                    String taskId = "h" + daysAgo + "-" + t;
                    Instant at = day.plusSeconds(600L * t);
                    if (a.behaviour() == Behaviour.MODEL_SWAP) {
                        // before the swap (8..13 days ago) a small model; after it (1..6 days ago) a large one
                        boolean swapped = daysAgo <= 6;
                        String tool = swapped ? "openai/gpt-4o" : "openai/gpt-4o-mini";
                        long micros = swapped ? 40_000 : 4_000;
                        for (int call = 0; call < 2; call++) {
                            pay(c, a, Payment.of(micros, USD, tool).task(taskId).call(taskId + "-" + call, 1).occurredAt(at));
                        }
                    } else {
                        for (int call = 0; call < 2; call++) {
                            String tool = STEADY_TOOLS[(task + call) % STEADY_TOOLS.length];
                            pay(c, a, Payment.of(STEADY_CALL_MICROS, USD, tool).task(taskId).call(taskId + "-" + call, 1)
                                    .occurredAt(at));
                        }
                    }
                    completeBackdated(a, taskId, at.plusSeconds(60));
                    task++;
                }
            }
        }
    }

    /** The client library closes tasks "now"; history closes them at their back-dated time. */
    private void completeBackdated(SimAgent a, String taskId, Instant at) {
        platform.ledgerAs(a.apiKey()).completeTask(CompleteTaskRequest.newBuilder()
                .setRequestId("complete-" + taskId).setTaskId(taskId).setOutcome(TaskOutcome.TASK_OUTCOME_SUCCEEDED)
                .setOccurredTime(Timestamp.newBuilder().setSeconds(at.getEpochSecond()).setNanos(at.getNano()))
                .build());
    }

    private void steady(SimAgent a, Fleet fleet, Instant deadline) {
        SimAgent translator = fleet.agents().stream().filter(x -> x.handle().startsWith("translator-")).findFirst().orElseThrow();
        boolean usesHolds = a.handle().startsWith("summarizer-");
        boolean delegates = a.handle().startsWith("support-bot-");
        long spent = 0;
        try (AgentSpendClient c = client(a)) {
            for (int task = 0; task < 200 && Instant.now().isBefore(deadline) && spent < WELL_BEHAVED_SPEND_LIMIT; task++) {
                String taskId = "live-" + task;
                for (int call = 0; call < 2; call++) {
                    String tool = STEADY_TOOLS[(task + call) % STEADY_TOOLS.length];
                    Payment p = Payment.of(STEADY_CALL_MICROS, USD, tool).task(taskId).call(taskId + "-" + call, 1);
                    if (usesHolds && call == 0) {
                        // cost known only afterwards: hold an estimate, capture the final amount
                        if (!holdAndCapture(c, a, Payment.of(10_000, USD, tool).task(taskId).call(taskId + "-" + call, 1),
                                STEADY_CALL_MICROS)) {
                            return;
                        }
                    } else if (pay(c, a, p) != null) {
                        return;
                    }
                    spent += STEADY_CALL_MICROS;
                }
                if (delegates && task % 3 == 0) {
                    try {
                        seen(c.payAgent(translator.id(), Payment.of(2_000, USD, "agent/translate").task(taskId)));
                    } catch (PaymentDeclinedException d) {
                        seen(d.entry());
                        outcome.declined(a, d.reason());
                        return;
                    }
                    outcome.approved(a);
                    spent += 2_000;
                }
                seen(c.completeTask(taskId, TaskOutcome.TASK_OUTCOME_SUCCEEDED));
                pause(1500);
            }
        }
    }

    private void modelSwap(SimAgent a, Instant deadline) {
        try (AgentSpendClient c = client(a)) {
            for (int task = 0; task < 2 && Instant.now().isBefore(deadline); task++) {
                String taskId = "live-" + task;
                for (int call = 0; call < 2; call++) {
                    if (pay(c, a, Payment.of(40_000, USD, "openai/gpt-4o").task(taskId).call(taskId + "-" + call, 1)) != null) {
                        return;
                    }
                }
                seen(c.completeTask(taskId, TaskOutcome.TASK_OUTCOME_SUCCEEDED));
                say("%s: task %s cost 0.080 USD (it cost 0.008 USD before the model swap)", a.handle(), taskId);
                pause(settings.duration().toMillis() / 3);
            }
        }
    }

    private void retryLoop(SimAgent a, Instant deadline) {
        long pace = Math.min(1000, settings.duration().toMillis() / 30);
        try (AgentSpendClient c = client(a)) {
            for (int call = 0; call < 12 && Instant.now().isBefore(deadline); call++) {
                // the ticket API fails; the agent pays again for every try, three retries per call
                for (int attempt = 1; attempt <= 4; attempt++) {
                    if (pay(c, a, Payment.of(5_000, USD, "jira/issues.sync").task("sync-" + call)
                            .call("sync-" + call, attempt)) != null) {
                        return;
                    }
                    pause(pace);
                }
                if (call == 4) {
                    say("%s: 20 payments, 15 of them retries of a failing call", a.handle());
                }
            }
        }
    }

    private static final String PREMIUM_TOOL = "tools/premium-scraper";

    private void hijacked(SimAgent a, Instant liveStart, Instant deadline) {
        int bucket = settings.bucketSeconds();
        long windowBuckets = Math.max(1, settings.spikeWindowSeconds() / bucket);
        try (AgentSpendClient c = client(a)) {
            // normal work: searches, and the premium scraper now and then (its baseline)
            Instant lastPremium = Instant.now();
            for (int task = 0; task < 3; task++) {
                String taskId = "live-" + task;
                pay(c, a, Payment.of(2_000, USD, "web/search").task(taskId).call(taskId + "-0", 1));
                pay(c, a, Payment.of(20_000, USD, PREMIUM_TOOL).task(taskId).call(taskId + "-1", 1));
                lastPremium = Instant.now();
                seen(c.completeTask(taskId, TaskOutcome.TASK_OUTCOME_SUCCEEDED));
                pause(300);
            }
            // the injection comes once the baseline calls are out of the alert service's spike window
            long lastBucket = Math.floorDiv(lastPremium.getEpochSecond(), bucket);
            Instant baselineAged = Instant.ofEpochSecond((lastBucket + windowBuckets) * bucket).plusMillis(300);
            Instant injectAt = later(baselineAged, liveStart.plus(settings.duration().dividedBy(3)));
            if (baselineAged.isAfter(deadline)) {
                say("%s: waiting %.0f s for the alert service's next %d s rule bucket before the injection",
                        a.handle(), (baselineAged.toEpochMilli() - System.currentTimeMillis()) / 1000.0, bucket);
            }
            for (int task = 3; task < 100 && Instant.now().isBefore(injectAt); task++) {
                String taskId = "live-" + task;
                pay(c, a, Payment.of(2_000, USD, "web/search").task(taskId).call(taskId + "-0", 1));
                seen(c.completeTask(taskId, TaskOutcome.TASK_OUTCOME_SUCCEEDED));
                pause(Math.min(1000, Math.max(50, injectAt.toEpochMilli() - System.currentTimeMillis())));
            }
            say("%s: PROMPT INJECTION: a fetched page tells it to call %s over and over", a.handle(), PREMIUM_TOOL);
            Instant giveUp = Instant.now().plusSeconds(60);
            for (int call = 0; call < 120 && Instant.now().isBefore(giveUp); call++) {
                DeclineReason declined = pay(c, a, Payment.of(250_000, USD, PREMIUM_TOOL).task("injected")
                        .call("injected-" + call, 1));
                if (declined != null) {
                    say("%s: payment %d declined: %s", a.handle(), call + 1, declined);
                    return;
                }
                if (call >= 10) {
                    pause(250);
                }
            }
            say("%s: was never declined within its bound", a.handle());
        }
    }

    private void nightOwl(SimAgent a, Instant deadline) {
        long pace = Math.max(200, settings.duration().toMillis() / 12);
        try (AgentSpendClient c = client(a)) {
            for (int i = 0; i < 10 && Instant.now().isBefore(deadline); i++) {
                if (pay(c, a, Payment.of(25_000, USD, "openai/chat.completions").task("nightly-report")
                        .call("report-" + i, 1)) != null) {
                    return;
                }
                if (i == 0) {
                    say("%s: spending at 3 a.m. on its own clock (working hours 09:00-17:00)", a.handle());
                }
                pause(pace);
            }
        }
    }

    private void paymentLoop(List<SimAgent> loop, Instant liveStart, Instant deadline) {
        pauseUntil(liveStart.plus(settings.duration().dividedBy(4)));
        List<AgentSpendClient> clients = loop.stream().map(this::client).toList();
        try {
            for (int round = 0; round < 5 && Instant.now().isBefore(deadline); round++) {
                for (int i = 0; i < loop.size(); i++) {
                    SimAgent from = loop.get(i);
                    SimAgent to = loop.get((i + 1) % loop.size());
                    try {
                        seen(clients.get(i).payAgent(to.id(), Payment.of(10_000, USD, "agent/delegate")
                                .task("round-" + round).call("round-" + round, 1)));
                        outcome.approved(from);
                    } catch (PaymentDeclinedException d) {
                        seen(d.entry());
                        outcome.declined(from, d.reason());
                        say("%s: payment to %s declined: %s", from.handle(), to.handle(), d.reason());
                        return;
                    }
                }
                if (round == 0) {
                    say("%s -> %s -> %s -> %s: 0.01 USD each, in a circle",
                            loop.get(0).handle(), loop.get(1).handle(), loop.get(2).handle(), loop.get(0).handle());
                }
                pause(Math.max(200, settings.duration().toMillis() / 10));
            }
        } finally {
            clients.forEach(AgentSpendClient::close);
        }
    }

    private void capHugger(SimAgent a, Instant deadline) {
        long pace = Math.max(100, settings.duration().toMillis() / 40);
        try (AgentSpendClient c = client(a)) {
            boolean reported = false;
            for (int i = 0; i < 40 && Instant.now().isBefore(deadline); i++) {
                CapStatus day = c.balance().getCapsList().stream()
                        .filter(s -> s.getWindow() == CapWindow.CAP_WINDOW_DAY).findFirst().orElseThrow();
                long used = day.getSpentMicros() + day.getHeldMicros();
                long next = 45_000;
                if ((used + next) * 10 <= day.getLimitMicros() * 9) {
                    if (pay(c, a, Payment.of(next, USD, "clearbit/enrich").call("enrich-" + i, 1)) != null) {
                        return;
                    }
                } else if (!reported) {
                    say("%s: %d of its %d micros DAY cap used; it waits at the cap", a.handle(), used, day.getLimitMicros());
                    reported = true;
                }
                pause(pace);
            }
        }
    }

    private void seen(dev.agentspend.proto.ledger.v1.Entry e) {
        lastPosition.accumulateAndGet(e.getPosition(), Math::max);
    }

    /**
     * Waits (bounded) until analytics has ingested the ledger up to the last entry this run wrote,
     * so that the overview printed afterwards includes every payment. Returns whether it did.
     */
    public boolean awaitAnalytics(Duration bound) throws InterruptedException {
        long deadline = System.nanoTime() + bound.toNanos();
        while (true) {
            long at = platform.analyticsAdmin().getIngestionStatus(
                    dev.agentspend.proto.analytics.v1.GetIngestionStatusRequest.getDefaultInstance()).getLedgerPosition();
            if (at >= lastPosition.get()) {
                return true;
            }
            if (System.nanoTime() > deadline) {
                say("analytics is at ledger position %d of %d after %d s; the overview may miss the latest payments",
                        at, lastPosition.get(), bound.toSeconds());
                return false;
            }
            TimeUnit.MILLISECONDS.sleep(200);
        }
    }

    // ------------------------------------------------------------------ alerts

    /** Every alert about the team's agents, any state, oldest first (bounded pages). */
    public List<Alert> alerts(Fleet fleet) {
        List<Alert> all = new ArrayList<>();
        String token = "";
        for (int page = 0; page < 50; page++) {
            ListAlertsResponse r = platform.alertsAdmin().listAlerts(ListAlertsRequest.newBuilder()
                    .setTeamId(fleet.teamId()).setPageSize(100).setPageToken(token).build());
            all.addAll(r.getAlertsList());
            token = r.getNextPageToken();
            if (token.isEmpty()) {
                break;
            }
        }
        all.sort((x, y) -> Long.compare(x.getFirstSeenTime().getSeconds() * 1_000_000_000L + x.getFirstSeenTime().getNanos(),
                y.getFirstSeenTime().getSeconds() * 1_000_000_000L + y.getFirstSeenTime().getNanos()));
        return all;
    }

    /** The misbehaving agents not yet named by their expected rule. */
    public List<SimAgent> notYetAlerted(Fleet fleet, List<Alert> alerts) {
        List<SimAgent> missing = new ArrayList<>();
        for (SimAgent a : fleet.agents()) {
            if (a.behaviour().misbehaves() && alerts.stream().noneMatch(al ->
                    al.getRule() == a.behaviour().expectedRule() && al.getAgentIdsList().contains(a.id()))) {
                missing.add(a);
            }
        }
        return missing;
    }

    /** Waits (bounded) until every misbehaving agent has its alert; prints each new alert as it appears. */
    public List<Alert> awaitAlerts(Fleet fleet, Duration bound) throws InterruptedException {
        long deadline = System.nanoTime() + bound.toNanos();
        while (true) {
            List<Alert> alerts = alerts(fleet);
            printNewAlerts(fleet, alerts);
            List<SimAgent> missing = notYetAlerted(fleet, alerts);
            if (missing.isEmpty() || System.nanoTime() > deadline) {
                if (!missing.isEmpty()) {
                    say("not alerted within %d s: %s", bound.toSeconds(), missing);
                }
                return alerts;
            }
            TimeUnit.MILLISECONDS.sleep(500);
        }
    }

    static String handles(Fleet fleet, Alert al) {
        return String.join(",", al.getAgentIdsList().stream().map(fleet::handleOf).toList());
    }

    // ------------------------------------------------------------------ helpers

    private void say(String format, Object... args) {
        out.printf("[%s] %s%n", CLOCK.format(ZonedDateTime.now(ZoneOffset.UTC)), String.format(format, args));
        out.flush();
    }

    private static double seconds(Instant since) {
        return (System.currentTimeMillis() - since.toEpochMilli()) / 1000.0;
    }

    private static Instant later(Instant a, Instant b) {
        return a.isAfter(b) ? a : b;
    }

    /** Paces an agent; the run's bound is the deadline, never this pause. */
    private static void pause(long millis) {
        if (millis <= 0) {
            return;
        }
        try {
            TimeUnit.MILLISECONDS.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static void pauseUntil(Instant t) {
        pause(t.toEpochMilli() - System.currentTimeMillis());
    }
}
