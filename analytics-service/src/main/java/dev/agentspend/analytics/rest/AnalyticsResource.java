package dev.agentspend.analytics.rest;

import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.Timestamp;
import dev.agentspend.analytics.config.AuthConfig;
import dev.agentspend.analytics.config.DashboardConfig;
import dev.agentspend.analytics.domain.Access;
import dev.agentspend.analytics.grpc.AnalyticsApi;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.proto.analytics.v1.*;
import io.smallrye.mutiny.Uni;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * The JSON API: the same operations and rules as the gRPC service (both call {@link AnalyticsApi});
 * responses are the proto messages as JSON with snake_case names. Times in query parameters are
 * RFC 3339 (for example {@code 2026-11-29T10:00:00Z}); enums are given by their proto names with or
 * without the prefix (for example {@code sort_field=VELOCITY}).
 */
@Path("/v1")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
public class AnalyticsResource {
    @Inject
    AnalyticsApi api;
    @Inject
    AuthConfig auth;
    @Inject
    DashboardConfig dashboard;

    @GET
    @Path("/agents/{agent_id}/cost-per-task")
    public Uni<String> costPerTask(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                   @PathParam("agent_id") String agentId, @QueryParam("window_days") Integer windowDays) {
        return call(authorization, r -> api.getCostPerTask(r, GetCostPerTaskRequest.newBuilder().setAgentId(agentId)
                .setWindowDays(windowDays == null ? 0 : windowDays).build()));
    }

    @GET
    @Path("/agents/{agent_id}/velocity")
    public Uni<String> velocity(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                @PathParam("agent_id") String agentId) {
        return call(authorization, r -> api.getSpendVelocity(r, GetSpendVelocityRequest.newBuilder().setAgentId(agentId).build()));
    }

    @GET
    @Path("/tools")
    public Uni<String> tools(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                             @QueryParam("agent_id") String agentId, @QueryParam("team_id") String teamId,
                             @QueryParam("start_time") String start, @QueryParam("end_time") String end) {
        return call(authorization, r -> {
            GetToolAttributionRequest.Builder b = GetToolAttributionRequest.newBuilder().setAgentId(orEmpty(agentId))
                    .setTeamId(orEmpty(teamId));
            time(start, "start_time", b::setStartTime);
            time(end, "end_time", b::setEndTime);
            return api.getToolAttribution(r, b.build());
        });
    }

    @GET
    @Path("/agents/{agent_id}/cap-utilization")
    public Uni<String> capUtilization(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                      @PathParam("agent_id") String agentId) {
        return call(authorization, r -> api.getCapUtilization(r, GetCapUtilizationRequest.newBuilder().setAgentId(agentId).build()));
    }

    @GET
    @Path("/retry-cost")
    public Uni<String> retryCost(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                 @QueryParam("agent_id") String agentId, @QueryParam("start_time") String start,
                                 @QueryParam("end_time") String end) {
        return call(authorization, r -> {
            GetRetryCostRequest.Builder b = GetRetryCostRequest.newBuilder().setAgentId(orEmpty(agentId));
            time(start, "start_time", b::setStartTime);
            time(end, "end_time", b::setEndTime);
            return api.getRetryCost(r, b.build());
        });
    }

    @GET
    @Path("/agents/{agent_id}/off-hours")
    public Uni<String> offHours(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                @PathParam("agent_id") String agentId, @QueryParam("start_time") String start,
                                @QueryParam("end_time") String end) {
        return call(authorization, r -> {
            GetOffHoursSpendRequest.Builder b = GetOffHoursSpendRequest.newBuilder().setAgentId(agentId);
            time(start, "start_time", b::setStartTime);
            time(end, "end_time", b::setEndTime);
            return api.getOffHoursSpend(r, b.build());
        });
    }

    @GET
    @Path("/flows")
    public Uni<String> flows(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                             @QueryParam("agent_id") String agentId, @QueryParam("start_time") String start,
                             @QueryParam("end_time") String end) {
        return call(authorization, r -> {
            ListAgentFlowsRequest.Builder b = ListAgentFlowsRequest.newBuilder().setAgentId(orEmpty(agentId));
            time(start, "start_time", b::setStartTime);
            time(end, "end_time", b::setEndTime);
            return api.listAgentFlows(r, b.build());
        });
    }

    @GET
    @Path("/fleet")
    public Uni<String> fleet(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                             @QueryParam("page_size") Integer pageSize, @QueryParam("page_token") String pageToken,
                             @QueryParam("team_id") String teamId, @QueryParam("label") List<String> labels,
                             @QueryParam("sort_field") String sortField, @QueryParam("descending") boolean descending,
                             @QueryParam("triggered_only") boolean triggeredOnly, @QueryParam("agent_id") String agentId) {
        return call(authorization, r -> api.getFleetOverview(r, GetFleetOverviewRequest.newBuilder()
                .setPageSize(pageSize == null ? 0 : pageSize).setPageToken(orEmpty(pageToken)).setTeamId(orEmpty(teamId))
                .setAgentId(orEmpty(agentId))
                .putAllLabels(labels(labels)).setSortField(sortField(sortField)).setDescending(descending)
                .setTriggeredOnly(triggeredOnly).build()));
    }

    @GET
    @Path("/agents/{agent_id}/series")
    public Uni<String> series(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                              @PathParam("agent_id") String agentId, @QueryParam("metric") String metric,
                              @QueryParam("step_seconds") Integer step, @QueryParam("tool") String tool,
                              @QueryParam("start_time") String start, @QueryParam("end_time") String end) {
        return call(authorization, r -> {
            GetTimeSeriesRequest.Builder b = GetTimeSeriesRequest.newBuilder().setAgentId(agentId)
                    .setMetric(metric(metric)).setStepSeconds(step == null ? 0 : step).setTool(orEmpty(tool));
            time(start, "start_time", b::setStartTime);
            time(end, "end_time", b::setEndTime);
            return api.getTimeSeries(r, b.build());
        });
    }

    @GET
    @Path("/agents/{agent_id}/cap-advice")
    public Uni<String> capAdvice(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                 @PathParam("agent_id") String agentId) {
        return call(authorization, r -> api.getCapAdvice(r, GetCapAdviceRequest.newBuilder().setAgentId(agentId).build()));
    }

    @POST
    @Path("/agents/{agent_id}/cap-advice:apply")
    public Uni<String> applyCapAdvice(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                      @PathParam("agent_id") String agentId, String body) {
        return callAdmin(authorization, r -> api.applyCapAdvice(r,
                ProtoJson.parse(body, ApplyCapAdviceRequest.newBuilder()).setAgentId(agentId).build()));
    }

    @POST
    @Path("/invoices")
    public Uni<String> importInvoice(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization, String body) {
        return callAdmin(authorization, r -> api.importInvoice(r, ProtoJson.parse(body, ImportInvoiceRequest.newBuilder()).build()));
    }

    @GET
    @Path("/reconciliation")
    public Uni<String> reconciliation(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization,
                                      @QueryParam("invoice_id") String invoiceId) {
        return call(authorization, r -> api.getReconciliation(r,
                GetReconciliationRequest.newBuilder().setInvoiceId(orEmpty(invoiceId)).build()));
    }

    @GET
    @Path("/ingestion")
    public Uni<String> ingestion(@HeaderParam(HttpHeaders.AUTHORIZATION) String authorization) {
        return call(authorization, r -> api.getIngestionStatus(r, GetIngestionStatusRequest.getDefaultInstance()));
    }

    /** What the dashboard page needs besides the API: the alert service's address (no secret). */
    @GET
    @Path("/dashboard-config")
    public Map<String, String> dashboardConfig() {
        return Map.of("alerts_url", dashboard.alertsUrl());
    }

    /** A read operation: the credential is judged before the request is read from the query or body. */
    private Uni<String> call(String authorization, Function<Access.Role, Uni<? extends MessageOrBuilder>> op) {
        return call(authorization, Access::requireRead, op);
    }

    /** An admin operation, judged the same way. */
    private Uni<String> callAdmin(String authorization, Function<Access.Role, Uni<? extends MessageOrBuilder>> op) {
        return call(authorization, Access::requireAdmin, op);
    }

    // the credential first: a caller without the right one learns nothing from the validation of
    // its parameters (AnalyticsApi checks the role again, for gRPC callers)
    private Uni<String> call(String authorization, java.util.function.Consumer<Access.Role> allowed,
                             Function<Access.Role, Uni<? extends MessageOrBuilder>> op) {
        return Uni.createFrom().deferred(() -> {
                    Access.Role role = Access.of(authorization, auth.adminToken(), auth.serviceToken());
                    allowed.accept(role);
                    return op.apply(role);
                })
                .map(m -> ProtoJson.print(m))
                .onFailure().transform(RestErrors::toRefusal);
    }

    private static void time(String value, String field, java.util.function.Consumer<Timestamp> set) {
        if (value == null || value.isEmpty()) {
            return;
        }
        try {
            Instant t = Instant.parse(value);
            set.accept(Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build());
        } catch (DateTimeParseException e) {
            throw ApiException.invalid(field, "must be an RFC 3339 time like 2026-11-29T10:00:00Z");
        }
    }

    private static Map<String, String> labels(List<String> values) {
        Map<String, String> out = new LinkedHashMap<>();
        if (values == null) {
            return out;
        }
        for (String v : values) {
            int eq = v.indexOf('=');
            if (eq <= 0) {
                throw ApiException.invalid("label", "must be key=value");
            }
            out.put(v.substring(0, eq), v.substring(eq + 1));
        }
        return out;
    }

    private static FleetSortField sortField(String value) {
        if (value == null || value.isEmpty()) {
            return FleetSortField.FLEET_SORT_FIELD_UNSPECIFIED;
        }
        String name = value.toUpperCase(Locale.ROOT);
        FleetSortField f = enumOf(FleetSortField.class,
                name.startsWith("FLEET_SORT_FIELD_") ? name : "FLEET_SORT_FIELD_" + name);
        if (f == null) {
            throw ApiException.invalid("sort_field", "must be one of HANDLE, COST_PER_TASK, COST_PER_TASK_CHANGE, "
                    + "VELOCITY, TOP_TOOL_SHARE, CAP_UTILIZATION, TRIGGER_COUNT");
        }
        return f;
    }

    private static SeriesMetric metric(String value) {
        if (value == null || value.isEmpty()) {
            return SeriesMetric.SERIES_METRIC_UNSPECIFIED;
        }
        String name = value.toUpperCase(Locale.ROOT);
        SeriesMetric m = enumOf(SeriesMetric.class, name.startsWith("SERIES_METRIC_") ? name : "SERIES_METRIC_" + name);
        if (m == null) {
            throw ApiException.invalid("metric", "must be SPEND, COST_PER_TASK or TOOL_SPEND");
        }
        return m;
    }

    private static <E extends Enum<E>> E enumOf(Class<E> type, String name) {
        if ("UNRECOGNIZED".equals(name)) {
            return null;
        }
        try {
            return Enum.valueOf(type, name);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static String orEmpty(String s) {
        return s == null ? "" : s;
    }
}
