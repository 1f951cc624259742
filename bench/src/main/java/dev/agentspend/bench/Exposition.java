package dev.agentspend.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.OptionalDouble;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** A service's Prometheus text exposition ({@code /q/metrics}), fetched and read. */
final class Exposition {
    /**
     * One client for every fetch, HTTP/1.1. A fetch once hung for ten minutes, far past its request
     * timeout, with the ledger answering other scrapes in milliseconds (JDK 17's client, a new client
     * per fetch, which by default asks a plain-HTTP server to upgrade to HTTP/2, and the services'
     * port, gRPC's too, accepts that upgrade). Whatever the cause, the caller now keeps the deadline.
     */
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(2)).build();
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private Exposition() {
    }

    /** The exposition of the service on {@code port}, or null when it cannot be read within ten seconds. */
    static String fetch(int port) {
        return fetch(port, TIMEOUT);
    }

    static String fetch(int port, Duration timeout) {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/q/metrics"))
                .timeout(timeout).build();
        // the deadline is also kept here, on a future the client does not own: a request timeout
        // the client fails to enforce must not stall the caller
        CompletableFuture<HttpResponse<String>> response = HTTP.sendAsync(request, HttpResponse.BodyHandlers.ofString());
        try {
            HttpResponse<String> r = response.get(timeout.toMillis() + 1_000, TimeUnit.MILLISECONDS);
            return r.statusCode() == 200 ? r.body() : null;
        } catch (ExecutionException | TimeoutException e) {
            response.cancel(true);
            return null;
        } catch (InterruptedException e) {
            response.cancel(true);
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** The value of the first sample named exactly {@code name} (whatever its labels), if there is one. */
    static OptionalDouble value(String exposition, String name) {
        return value(exposition, name, null);
    }

    /**
     * The value of the first sample named exactly {@code name} whose labels include {@code label}
     * (as exposed, {@code source="memory"}; null: whatever its labels), if there is one.
     */
    static OptionalDouble value(String exposition, String name, String label) {
        for (String line : exposition.split("\n")) {
            boolean named = line.startsWith(name + " ") || line.startsWith(name + "{");
            if (named && (label == null || hasLabel(line, label))) {
                try {
                    return OptionalDouble.of(Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)));
                } catch (NumberFormatException e) {
                    return OptionalDouble.empty();
                }
            }
        }
        return OptionalDouble.empty();
    }

    private static boolean hasLabel(String sample, String label) {
        int open = sample.indexOf('{');
        int close = sample.lastIndexOf('}');
        if (open < 0 || close < open) {
            return false;
        }
        for (String pair : sample.substring(open + 1, close).split(",")) {
            if (pair.equals(label)) {
                return true;
            }
        }
        return false;
    }
}
