package dev.agentspend.analytics.it;

import dev.agentspend.analytics.support.AnalyticsTestResource;
import dev.agentspend.proto.analytics.v1.FleetAgent;
import dev.agentspend.proto.analytics.v1.GetCapUtilizationRequest;
import dev.agentspend.proto.analytics.v1.GetCapUtilizationResponse;
import dev.agentspend.proto.analytics.v1.GetCostPerTaskRequest;
import dev.agentspend.proto.analytics.v1.GetCostPerTaskResponse;
import dev.agentspend.proto.analytics.v1.GetFleetOverviewRequest;
import dev.agentspend.proto.analytics.v1.GetSpendVelocityRequest;
import dev.agentspend.proto.analytics.v1.GetSpendVelocityResponse;
import dev.agentspend.proto.analytics.v1.GetToolAttributionRequest;
import dev.agentspend.proto.analytics.v1.GetToolAttributionResponse;
import dev.agentspend.proto.analytics.v1.ToolSpend;
import dev.agentspend.proto.identity.v1.Cap;
import dev.agentspend.proto.identity.v1.CapEnforcement;
import dev.agentspend.proto.identity.v1.CapWindow;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.identity.v1.WorkingHours;
import dev.agentspend.proto.ledger.v1.CompleteTaskRequest;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.TaskOutcome;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;

import static dev.agentspend.analytics.support.Platform.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The dashboard in a real headless Chromium (Debian's chromium and chromium-driver, driven by
 * Selenium): the user pastes the admin token, the fleet table and an agent's page show exactly the
 * numbers the API gives, charts render from the API with the Chart.js served by the service, and
 * the alerts link points at the configured alert service. Screenshots go to target/.
 */
@QuarkusTest
@QuarkusTestResource(value = AnalyticsTestResource.class, restrictToAnnotatedClass = false)
class DashboardBrowserTest {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

    static String money(long micros) {
        BigDecimal v = BigDecimal.valueOf(Math.abs(micros), 6).stripTrailingZeros();
        if (v.scale() < 2) {
            v = v.setScale(2);
        }
        return (micros < 0 ? "-" : "") + "$" + v.toPlainString();
    }

    static String percent(double ratio) {
        return new BigDecimal(ratio * 100).setScale(1, RoundingMode.HALF_UP).toPlainString() + "%";
    }

    @Test
    void fleetAndAgentPagesShowTheApisNumbers() throws Exception {
        assumeTrue(Files.isExecutable(CHROMIUM), "skipped: " + CHROMIUM + " is absent (apt-get install chromium)");
        assumeTrue(Files.isExecutable(CHROMEDRIVER), "skipped: " + CHROMEDRIVER + " is absent (apt-get install chromium-driver)");

        String suite = "ui-" + UUID.randomUUID().toString().substring(0, 8);
        Agent agent = createAgent("ui", "", Map.of("suite", suite), SpendingPolicy.newBuilder()
                .addCaps(Cap.newBuilder().setWindow(CapWindow.CAP_WINDOW_DAY).setLimitMicros(50_000_000)
                        .setCurrencyCode("USD").setEnforcement(CapEnforcement.CAP_ENFORCEMENT_SOFT)).build(),
                WorkingHours.getDefaultInstance(), 1_000_000_000L);
        long last = 0;
        long[] amounts = {1_250_000, 2_500_000, 750_000, 4_000_000};
        String[] tools = {"openai/chat.completions", "openai/chat.completions", "search", "openai/chat.completions"};
        for (int i = 0; i < amounts.length; i++) {
            last = ledgerAs(agent).pay(PayRequest.newBuilder().setRequestId(suite + "-" + i).setAmountMicros(amounts[i])
                    .setCurrencyCode("USD").setTool(tools[i]).setTaskId("task-" + (i / 2)).setAttempt(1).build()).getEntry().getPosition();
        }
        Entry done = ledgerAs(agent).completeTask(CompleteTaskRequest.newBuilder().setRequestId(suite + "-done").setTaskId("task-0")
                .setOutcome(TaskOutcome.TASK_OUTCOME_SUCCEEDED).build()).getEntry();
        awaitIngested(Math.max(last, done.getPosition()));
        await(Duration.ofSeconds(20), () -> analyticsAdmin().getCapUtilization(GetCapUtilizationRequest.newBuilder()
                .setAgentId(agent.id()).build()).getHasDailyCap(), "analytics did not learn the agent's cap");

        Path profile = Files.createTempDirectory("chromium-profile");
        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile())
                .addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--disable-dev-shm-usage", "--window-size=1400,1100", "--user-data-dir=" + profile);
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort().build();
        WebDriver driver = new ChromeDriver(service, options);
        try {
            WebDriverWait wait = new WebDriverWait(driver, Duration.ofSeconds(30));
            driver.get("http://localhost:" + ANALYTICS_PORT + "/");
            wait.until(ExpectedConditions.textToBe(By.id("token-state"), "no token"));
            driver.findElement(By.id("token")).sendKeys(AnalyticsTestResource.ADMIN_TOKEN);
            driver.findElement(By.id("token-save")).click();
            wait.until(d -> "fleet".equals(d.findElement(By.tagName("body")).getDomAttribute("data-loaded")));
            assertFalse(driver.getPageSource().contains(AnalyticsTestResource.ADMIN_TOKEN), "the token is never in the page");
            assertEquals(AnalyticsTestResource.ADMIN_TOKEN, ((JavascriptExecutor) driver)
                    .executeScript("return sessionStorage.getItem('agentspend.analytics.token')"));

            FleetAgent api = analyticsAdmin().getFleetOverview(GetFleetOverviewRequest.newBuilder().putLabels("suite", suite).build())
                    .getAgents(0);
            WebElement row = driver.findElement(By.cssSelector("#fleet tr[data-agent-id='" + agent.id() + "']"));
            assertEquals(agent.handle(), row.findElement(By.tagName("a")).getText());
            assertEquals(money(api.getCostPerTaskMicros()), row.findElement(By.cssSelector("td.cost-per-task")).getText());
            assertEquals("$3.75", row.findElement(By.cssSelector("td.cost-per-task")).getText(), "task-0 cost 1.25 + 2.50");
            assertEquals(money(api.getVelocityPerHourMicros()), row.findElement(By.cssSelector("td.velocity")).getText());
            assertEquals("$8.50", row.findElement(By.cssSelector("td.velocity")).getText());
            assertEquals(money(api.getProjectedHourlyBudgetMicros()), row.findElement(By.cssSelector("td.budget")).getText());
            assertEquals(api.getTopTool() + " " + percent(api.getTopToolShare()), row.findElement(By.cssSelector("td.top-tool")).getText());
            assertEquals(percent(api.getCapUtilization7D()), row.findElement(By.cssSelector("td.cap-utilization")).getText());
            assertEquals(api.getTriggersCount(), row.findElements(By.cssSelector("td.triggers .badge")).size());
            assertTrue(row.findElement(By.cssSelector("td.velocity")).getDomAttribute("class").contains("hot"),
                    "8.50 in the last hour is over the 50 USD daily cap spread over 24 hours");
            screenshot(driver, "dashboard-fleet.png");

            row.findElement(By.tagName("a")).click();
            wait.until(d -> "agent".equals(d.findElement(By.tagName("body")).getDomAttribute("data-loaded")));
            GetCostPerTaskResponse cpt = analyticsAdmin().getCostPerTask(GetCostPerTaskRequest.newBuilder().setAgentId(agent.id()).build());
            GetSpendVelocityResponse vel = analyticsAdmin().getSpendVelocity(GetSpendVelocityRequest.newBuilder().setAgentId(agent.id()).build());
            GetToolAttributionResponse tools7d = analyticsAdmin().getToolAttribution(GetToolAttributionRequest.newBuilder().setAgentId(agent.id()).build());
            GetCapUtilizationResponse caps = analyticsAdmin().getCapUtilization(GetCapUtilizationRequest.newBuilder().setAgentId(agent.id()).build());
            assertEquals(agent.handle(), driver.findElement(By.id("agent-handle")).getText());
            assertEquals(money(cpt.getCurrent().getAverageMicros()), driver.findElement(By.id("cpt-current")).getText());
            assertEquals(String.valueOf(cpt.getOpenTaskCount()), driver.findElement(By.id("cpt-open")).getText());
            assertEquals(money(cpt.getOpenTaskMicros()), driver.findElement(By.id("cpt-open-cost")).getText());
            assertEquals(money(vel.getWindows(3).getPerHourMicros()) + " / h", driver.findElement(By.id("vel-hour")).getText());
            assertEquals(money(vel.getProjectedHourlyBudgetMicros()), driver.findElement(By.id("vel-budget")).getText());
            for (ToolSpend t : tools7d.getToolsList()) {
                WebElement toolRow = driver.findElement(By.cssSelector("#tools tr[data-tool='" + t.getTool() + "']"));
                assertEquals(money(t.getSpendMicros()), toolRow.findElement(By.cssSelector("td.spend")).getText());
                assertEquals(percent(t.getShare()), toolRow.findElement(By.cssSelector("td.share")).getText());
            }
            assertEquals(percent(caps.getCaps(0).getUtilization()),
                    driver.findElement(By.cssSelector(".gauge[data-window='CAP_WINDOW_DAY'] .utilization")).getText());
            assertEquals(percent(caps.getAverageUtilization7D()), driver.findElement(By.id("util-7d")).getText());
            assertEquals("http://alerts.test:8084/?agent=" + agent.id(),
                    driver.findElement(By.id("agent-alerts")).getDomAttribute("href"));
            Long charts = (Long) ((JavascriptExecutor) driver).executeScript(
                    "return Object.keys(Chart.instances).length");
            assertEquals(3 + caps.getCapsCount(), charts.intValue(), "velocity, tools, cost trend and one gauge per cap");
            screenshot(driver, "dashboard-agent.png");
        } finally {
            driver.quit();
        }
    }

    private static void screenshot(WebDriver driver, String name) throws Exception {
        File shot = ((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE);
        Files.copy(shot.toPath(), Path.of("target", name), StandardCopyOption.REPLACE_EXISTING);
    }
}
