package dev.agentspend.bench;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Phase C: the ceiling the transport alone puts on any Pay rate on this machine. The same clients,
 * channels and closed loop as the payment phases, but each call is the ledger's
 * {@code grpc.health.v1.Health/Check}: an empty unary call through the same Quarkus gRPC server and
 * event loops, with no authentication, no database and no feed behind it. Whatever Pay reaches is
 * bounded by this rate, so the report can say how much of the gap to a target is the payment path's
 * own work and how much is the cost of a gRPC call on these cores.
 */
final class TransportFloor {
    private static final long DEADLINE_SECONDS = 30;
    private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };
    /** An empty HealthCheckRequest (service "": the server as a whole) is zero bytes on the wire. */
    static final MethodDescriptor<byte[], byte[]> HEALTH_CHECK = MethodDescriptor.<byte[], byte[]>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName("grpc.health.v1.Health/Check")
            .setRequestMarshaller(BYTES)
            .setResponseMarshaller(BYTES)
            .build();

    private final List<ManagedChannel> channels;
    private final int clients;
    private final Duration warmup;
    private final Duration duration;

    TransportFloor(List<ManagedChannel> channels, int clients, Duration warmup, Duration duration) {
        this.channels = channels;
        this.clients = clients;
        this.warmup = warmup;
        this.duration = duration;
    }

    PhaseResult run(LoadPhase.Window window) throws InterruptedException {
        long measureStart = System.nanoTime() + warmup.toNanos();
        long measureEnd = measureStart + duration.toNanos();
        CountDownLatch done = new CountDownLatch(clients);
        List<Client> all = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            all.add(new Client(channels.get(i % channels.size()), measureStart, measureEnd, done));
        }
        all.forEach(Client::next);
        LoadPhase.sleepUntil(measureStart);
        window.measureStarted();
        LoadPhase.sleepUntil(measureEnd);
        window.measureEnded();
        boolean drained = done.await(DEADLINE_SECONDS + 5, TimeUnit.SECONDS);
        PhaseResult r = new PhaseResult("c", duration.toNanos() / 1e9);
        for (Client c : all) {
            synchronized (c) {
                r.latencyMicros.add(c.histogram);
                r.completed += c.completed;
                c.errors.forEach((k, v) -> r.errors.merge(k, v, Long::sum));
                if (!c.finished) {
                    r.unfinished++;
                }
            }
        }
        if (!drained) {
            r.errors.merge("UNFINISHED (no answer " + (DEADLINE_SECONDS + 5) + " s after the end)", r.unfinished, Long::sum);
        }
        return r;
    }

    /** One client: the next call is sent from the previous one's completion, as in {@link LoadPhase}. */
    private static final class Client implements StreamObserver<byte[]> {
        private final ManagedChannel channel;
        private final long measureStart;
        private final long measureEnd;
        private final CountDownLatch done;
        final org.HdrHistogram.Histogram histogram = LoadPhase.newHistogram();
        final java.util.Map<String, Long> errors = new java.util.TreeMap<>();
        long completed;
        boolean finished;
        private long sentAt;

        Client(ManagedChannel channel, long measureStart, long measureEnd, CountDownLatch done) {
            this.channel = channel;
            this.measureStart = measureStart;
            this.measureEnd = measureEnd;
            this.done = done;
        }

        synchronized void next() {
            if (System.nanoTime() >= measureEnd) {
                finished = true;
                done.countDown();
                return;
            }
            sentAt = System.nanoTime();
            ClientCalls.asyncUnaryCall(channel.newCall(HEALTH_CHECK,
                    CallOptions.DEFAULT.withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS)), new byte[0], this);
        }

        @Override
        public void onNext(byte[] value) {
            // the serving status is not the point: any answer is a completed round trip
        }

        @Override
        public void onError(Throwable t) {
            synchronized (this) {
                if (record()) {
                    errors.merge(Status.fromThrowable(t).getCode().name(), 1L, Long::sum);
                }
            }
            next();
        }

        @Override
        public void onCompleted() {
            synchronized (this) {
                record();
            }
            next();
        }

        private boolean record() {
            long end = System.nanoTime();
            if (sentAt < measureStart || end > measureEnd) {
                return false;
            }
            completed++;
            histogram.recordValue(Math.max(1, Math.min((end - sentAt) / 1000, histogram.getHighestTrackableValue())));
            return true;
        }
    }
}
