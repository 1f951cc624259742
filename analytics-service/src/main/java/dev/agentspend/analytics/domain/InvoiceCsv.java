package dev.agentspend.analytics.domain;

import dev.agentspend.common.api.Fields;
import dev.agentspend.common.error.Violations;

import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;

/**
 * Parses a provider's invoice or usage export: a header {@code tool,period_start,period_end,amount}
 * then one line per tool and period; periods are ISO dates (period_end inclusive), amounts decimal
 * currency units with at most 6 decimals, converted exactly to micros. Every bad line is reported.
 * Periods lie within the years 2000 to 2199, as every window analytics answers for does (PostgreSQL
 * and google.protobuf.Timestamp cannot hold some dates LocalDate parses), and the amounts of one
 * invoice add up to at most Long.MAX_VALUE micros, so that its total can be stored and returned.
 */
public final class InvoiceCsv {
    public static final int MAX_LINES = 10_000;
    private static final String HEADER = "tool,period_start,period_end,amount";
    public static final LocalDate FIRST_DAY = LocalDate.of(2000, 1, 1);
    public static final LocalDate LAST_DAY = LocalDate.of(2199, 12, 31);

    /** One line. */
    public record Line(int number, String tool, LocalDate periodStart, LocalDate periodEnd, long amountMicros) {
    }

    private InvoiceCsv() {
    }

    public static List<Line> parse(String csv) {
        Violations v = new Violations();
        List<Line> out = new ArrayList<>();
        if (csv == null || csv.isBlank()) {
            v.add("csv", "is required: a header `" + HEADER + "` and at least one line");
            v.throwIfAny();
        }
        String[] lines = csv.replace("\r\n", "\n").split("\n");
        if (!lines[0].trim().equalsIgnoreCase(HEADER)) {
            v.add("csv", "the first line must be the header `" + HEADER + "`");
            v.throwIfAny();
        }
        if (lines.length - 1 > MAX_LINES) {
            v.add("csv", "at most " + MAX_LINES + " lines are allowed, got " + (lines.length - 1));
            v.throwIfAny();
        }
        for (int i = 1; i < lines.length; i++) {
            String raw = lines[i].trim();
            if (raw.isEmpty()) {
                continue;
            }
            String field = "csv.line[" + (i + 1) + "]";
            String[] cols = raw.split(",", -1);
            if (cols.length != 4) {
                v.add(field, "must have 4 columns (tool, period_start, period_end, amount), has " + cols.length);
                continue;
            }
            String tool = cols[0].trim();
            if (tool.isEmpty() || !Fields.isText(tool, Fields.MAX_TEXT_LENGTH)) {
                v.add(field + ".tool", "must be 1 to 256 characters without control characters");
                continue;
            }
            LocalDate start;
            LocalDate end;
            try {
                start = LocalDate.parse(cols[1].trim());
                end = LocalDate.parse(cols[2].trim());
            } catch (DateTimeParseException e) {
                v.add(field + ".period", "period_start and period_end must be ISO dates like 2026-11-01");
                continue;
            }
            if (start.isBefore(FIRST_DAY) || end.isAfter(LAST_DAY)) {
                v.add(field + ".period", "period_start and period_end must be dates from " + FIRST_DAY + " to " + LAST_DAY);
                continue;
            }
            if (end.isBefore(start)) {
                v.add(field + ".period_end", "must not be before period_start");
                continue;
            }
            Long micros = toMicros(cols[3].trim());
            if (micros == null) {
                v.add(field + ".amount", "must be a non-negative decimal with at most 6 decimals, like 12.50");
                continue;
            }
            out.add(new Line(i + 1, tool, start, end, micros));
        }
        if (out.isEmpty()) {
            v.add("csv", "has no line after the header");
        }
        long totalMicros = 0;
        for (Line line : out) {
            if (totalMicros > Long.MAX_VALUE - line.amountMicros()) {
                v.add("csv", "the amounts add up to more than " + Long.MAX_VALUE + " micros; split the invoice");
                break;
            }
            totalMicros += line.amountMicros();
        }
        v.throwIfAny();
        return out;
    }

    /** Exact conversion of a decimal amount to micros; null when malformed, negative, too precise or too large. */
    public static Long toMicros(String amount) {
        try {
            BigDecimal value = new BigDecimal(amount);
            if (value.signum() < 0 || value.scale() > 6) {
                return null;
            }
            return value.movePointRight(6).longValueExact();
        } catch (NumberFormatException | ArithmeticException e) {
            return null;
        }
    }
}
