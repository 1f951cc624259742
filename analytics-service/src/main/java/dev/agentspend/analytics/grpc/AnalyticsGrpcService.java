package dev.agentspend.analytics.grpc;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.DatabaseErrors;
import dev.agentspend.common.error.GrpcErrors;
import dev.agentspend.proto.analytics.v1.*;
import io.quarkus.grpc.GrpcService;
import io.quarkus.grpc.RegisterInterceptor;
import io.smallrye.mutiny.Uni;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

/** The gRPC transport of {@link AnalyticsApi}: the caller's role in, google.rpc.Status out. */
@GrpcService
@RegisterInterceptor(AuthInterceptor.class)
public class AnalyticsGrpcService implements AnalyticsService {
    public static final String DOMAIN = "analytics.agentspend.dev";
    private static final Logger LOG = Logger.getLogger(AnalyticsGrpcService.class);

    @Inject
    AnalyticsApi api;

    @Override
    public Uni<GetCostPerTaskResponse> getCostPerTask(GetCostPerTaskRequest request) {
        return unary("GetCostPerTask", api.getCostPerTask(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<GetSpendVelocityResponse> getSpendVelocity(GetSpendVelocityRequest request) {
        return unary("GetSpendVelocity", api.getSpendVelocity(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<GetToolAttributionResponse> getToolAttribution(GetToolAttributionRequest request) {
        return unary("GetToolAttribution", api.getToolAttribution(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<GetCapUtilizationResponse> getCapUtilization(GetCapUtilizationRequest request) {
        return unary("GetCapUtilization", api.getCapUtilization(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<GetRetryCostResponse> getRetryCost(GetRetryCostRequest request) {
        return unary("GetRetryCost", api.getRetryCost(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<GetOffHoursSpendResponse> getOffHoursSpend(GetOffHoursSpendRequest request) {
        return unary("GetOffHoursSpend", api.getOffHoursSpend(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<ListAgentFlowsResponse> listAgentFlows(ListAgentFlowsRequest request) {
        return unary("ListAgentFlows", api.listAgentFlows(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<GetFleetOverviewResponse> getFleetOverview(GetFleetOverviewRequest request) {
        return unary("GetFleetOverview", api.getFleetOverview(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<GetTimeSeriesResponse> getTimeSeries(GetTimeSeriesRequest request) {
        return unary("GetTimeSeries", api.getTimeSeries(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<GetCapAdviceResponse> getCapAdvice(GetCapAdviceRequest request) {
        return unary("GetCapAdvice", api.getCapAdvice(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<ApplyCapAdviceResponse> applyCapAdvice(ApplyCapAdviceRequest request) {
        return unary("ApplyCapAdvice", api.applyCapAdvice(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<ImportInvoiceResponse> importInvoice(ImportInvoiceRequest request) {
        return unary("ImportInvoice", api.importInvoice(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<GetReconciliationResponse> getReconciliation(GetReconciliationRequest request) {
        return unary("GetReconciliation", api.getReconciliation(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<GetIngestionStatusResponse> getIngestionStatus(GetIngestionStatusRequest request) {
        return unary("GetIngestionStatus", api.getIngestionStatus(AuthInterceptor.current(), request));
    }

    private static <T> Uni<T> unary(String method, Uni<T> call) {
        return call.onFailure().transform(t -> {
            Throwable refusal = DatabaseErrors.translate(t, "the analytics database");
            if (!(refusal instanceof ApiException)) {
                LOG.errorf(t, "%s failed unexpectedly", method);
            }
            return GrpcErrors.toStatus(refusal, DOMAIN);
        });
    }
}
