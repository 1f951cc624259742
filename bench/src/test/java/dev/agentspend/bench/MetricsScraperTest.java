package dev.agentspend.bench;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MetricsScraperTest {

    @Test
    void scrapesEveryServiceOverHttpAndCountsTheOnesThatDidNotAnswer() throws IOException {
        AtomicInteger served = new AtomicInteger();
        HttpServer server = HttpServer.create(new InetSocketAddress("localhost", 0), 0);
        server.createContext("/q/metrics", exchange -> {
            served.incrementAndGet();
            byte[] body = "agentspend_ledger_pay_batch_size_count 1.0\n".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        Map<String, Integer> ports = new LinkedHashMap<>();
        ports.put("ledger-service", server.getAddress().getPort());
        ports.put("alert-service", closedPort);
        try (MetricsScraper scraper = new MetricsScraper(ports, Exposition::fetch)) {
            scraper.scrapeAll();
            scraper.scrapeAll();
            assertEquals(2, served.get());
            assertArrayEquals(new int[] {2, 0}, scraper.outcomes().get("ledger-service"));
            assertArrayEquals(new int[] {0, 2}, scraper.outcomes().get("alert-service"));
            assertEquals("metrics: every service's /q/metrics scraped every 15 s from the warm-up of phase A on, as a"
                    + " Prometheus server would (ledger-service 2, alert-service 0 + 2 failed)",
                    scraper.describe(Duration.ofSeconds(15)));
        } finally {
            server.stop(0);
        }
    }

    @Test
    void theFirstScrapeIsAtTheStartNotOneIntervalLater() throws InterruptedException {
        // the point of the scraper: the services' exposition code is compiled during the warm-up
        CountDownLatch scraped = new CountDownLatch(3);
        Map<Integer, Integer> byPort = new ConcurrentHashMap<>();
        Map<String, Integer> ports = new LinkedHashMap<>();
        ports.put("identity-service", 1);
        ports.put("ledger-service", 2);
        ports.put("analytics-service", 3);
        try (MetricsScraper scraper = new MetricsScraper(ports, port -> {
            byPort.merge(port, 1, Integer::sum);
            scraped.countDown();
            return "";
        }).start(Duration.ofHours(1))) {
            assertTrue(scraped.await(10, TimeUnit.SECONDS), "no scrape within 10 s of start with an hour's interval");
            assertEquals(Map.of(1, 1, 2, 1, 3, 1), byPort);
        }
    }

    @Test
    void aServiceThatNeverAnswersCostsOneTimeoutNotTheRun() throws IOException {
        try (ServerSocket silent = new ServerSocket(0)) {
            // accepted by the kernel's backlog, never read or answered
            long startNanos = System.nanoTime();
            assertNull(Exposition.fetch(silent.getLocalPort(), Duration.ofMillis(300)));
            long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
            assertTrue(tookMs < 5_000, "a fetch with a 300 ms timeout took " + tookMs + " ms");
        }
    }

    @Test
    void anIntervalMustBePositive() {
        try (MetricsScraper scraper = new MetricsScraper(Map.of(), port -> "")) {
            assertThrows(IllegalArgumentException.class, () -> scraper.start(Duration.ZERO));
            assertThrows(IllegalArgumentException.class, () -> scraper.start(Duration.ofSeconds(-1)));
        }
    }
}
