package dev.agentspend.analytics.store;

import dev.agentspend.analytics.domain.InvoiceCsv;
import dev.agentspend.common.api.Ids;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import io.smallrye.mutiny.Uni;
import io.vertx.core.buffer.Buffer;
import io.vertx.mutiny.sqlclient.Pool;
import io.vertx.mutiny.sqlclient.Tuple;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Imported invoices and the reconciliation of their lines against the ledger's totals. */
@ApplicationScoped
public class InvoiceStore {
    @Inject
    Pool pool;

    /** The result of an import: its id, line count and total. */
    public record Imported(String invoiceId, int lineCount, long totalMicros) {
    }

    /** A reconciliation line: the invoice's amount and the ledger's for one vendor, tool and period. */
    public record Reconciled(String vendor, String currencyCode, String tool, LocalDate periodStart, LocalDate periodEnd,
                             long invoiceMicros, long ledgerMicros) {
    }

    /**
     * Stores an invoice once per request id: a repeat with the same content returns the first
     * import; the same id with different content fails with ALREADY_EXISTS.
     */
    public Uni<Imported> importInvoice(String requestId, byte[] requestHash, String vendor, String currencyCode,
                                       List<InvoiceCsv.Line> lines) {
        String invoiceId = Ids.newId("inv");
        long total = 0;
        for (InvoiceCsv.Line l : lines) {
            total = Math.addExact(total, l.amountMicros());
        }
        long sum = total;
        return pool.withTransaction(c -> c.preparedQuery("""
                        INSERT INTO analytics.invoice (invoice_id, request_id, request_hash, vendor, currency_code, create_time)
                        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (request_id) DO NOTHING
                        """)
                .execute(Tuple.from(List.<Object>of(invoiceId, requestId, Buffer.buffer(requestHash), vendor, currencyCode,
                        OffsetDateTime.now())))
                .chain(inserted -> {
                    if (inserted.rowCount() == 0) {
                        return replay(c, requestId, requestHash);
                    }
                    int n = lines.size();
                    String[] ids = new String[n];
                    Integer[] numbers = new Integer[n];
                    String[] tools = new String[n];
                    LocalDate[] starts = new LocalDate[n];
                    LocalDate[] ends = new LocalDate[n];
                    Long[] amounts = new Long[n];
                    for (int i = 0; i < n; i++) {
                        InvoiceCsv.Line l = lines.get(i);
                        ids[i] = invoiceId;
                        numbers[i] = l.number();
                        tools[i] = l.tool();
                        starts[i] = l.periodStart();
                        ends[i] = l.periodEnd();
                        amounts[i] = l.amountMicros();
                    }
                    return c.preparedQuery("""
                                    INSERT INTO analytics.invoice_line (invoice_id, line_number, tool, period_start, period_end, amount_micros)
                                    SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::date[], $5::date[], $6::int8[])
                                    """)
                            .execute(Tuple.from(new Object[]{ids, numbers, tools, starts, ends, amounts}))
                            .map(r -> new Imported(invoiceId, n, sum));
                }));
    }

    private Uni<Imported> replay(io.vertx.mutiny.sqlclient.SqlConnection c, String requestId, byte[] requestHash) {
        return c.preparedQuery("""
                        SELECT i.invoice_id, i.request_hash, count(l.*) AS n, COALESCE(SUM(l.amount_micros), 0)::int8 AS total
                        FROM analytics.invoice i LEFT JOIN analytics.invoice_line l USING (invoice_id)
                        WHERE i.request_id = $1 GROUP BY i.invoice_id, i.request_hash
                        """)
                .execute(Tuple.of(requestId))
                .map(rows -> {
                    var r = rows.iterator().next();
                    if (!Arrays.equals(r.getBuffer("request_hash").getBytes(), requestHash)) {
                        throw ApiException.of(ErrorCode.ALREADY_EXISTS, "REQUEST_ID_REUSED",
                                "request_id '" + requestId + "' was used for a different invoice; use a new request_id");
                    }
                    return new Imported(r.getString("invoice_id"), (int) r.getLong("n").longValue(), r.getLong("total"));
                });
    }

    /** Per vendor, tool and period: the invoices' total against the ledger's spend on the tool in the period. */
    public Uni<List<Reconciled>> reconcile(String invoiceId) {
        String sql = """
                SELECT i.vendor, i.currency_code, l.tool, l.period_start, l.period_end, SUM(l.amount_micros)::int8 AS invoiced,
                  COALESCE((SELECT SUM(d.spend_micros) FROM analytics.agent_tool_day_all d JOIN analytics.agent a USING (agent_id)
                            WHERE d.tool = l.tool AND d.day >= l.period_start AND d.day <= l.period_end
                              AND a.currency_code = i.currency_code), 0)::int8 AS ledger
                FROM analytics.invoice_line l JOIN analytics.invoice i USING (invoice_id)
                """ + (invoiceId.isEmpty() ? "" : " WHERE l.invoice_id = $1") + """
                 GROUP BY i.vendor, i.currency_code, l.tool, l.period_start, l.period_end
                 ORDER BY l.period_start, l.tool, i.vendor
                """;
        Tuple params = invoiceId.isEmpty() ? Tuple.tuple() : Tuple.of(invoiceId);
        return pool.preparedQuery(sql).execute(params).map(rows -> {
            List<Reconciled> out = new ArrayList<>();
            rows.forEach(r -> out.add(new Reconciled(r.getString("vendor"), r.getString("currency_code"), r.getString("tool"),
                    r.getLocalDate("period_start"), r.getLocalDate("period_end"), r.getLong("invoiced"), r.getLong("ledger"))));
            return out;
        });
    }

    public Uni<Boolean> exists(String invoiceId) {
        return pool.preparedQuery("SELECT 1 FROM analytics.invoice WHERE invoice_id = $1").execute(Tuple.of(invoiceId))
                .map(rows -> rows.size() > 0);
    }
}
