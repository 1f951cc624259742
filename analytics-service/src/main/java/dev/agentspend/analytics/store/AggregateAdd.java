package dev.agentspend.analytics.store;

import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The statement that adds a batch's sums to an aggregate table, one row per key (the keys of a
 * batch are distinct). Rows that exist are updated by a plain UPDATE; only the others go through
 * INSERT .. ON CONFLICT DO UPDATE. An upsert that meets an existing row locks it before updating it:
 * two WAL records and a row lock per row where the UPDATE writes one (most rows of most batches
 * exist: a minute's row is written by every batch of that minute). The single consumer holds the
 * advisory lock, so no other writer inserts between the two parts; the ON CONFLICT clause keeps
 * the statement right even if one did.
 *
 * @param table    schema-qualified table
 * @param keys     the key columns (the table's unique key, the ON CONFLICT target), in parameter order
 * @param sums     the added columns, in parameter order after the keys
 * @param inserted columns written when the row is inserted and left alone after, in parameter order
 *                 after the sums
 */
record AggregateAdd(String table, List<Column> keys, List<Column> sums, List<Column> inserted) {
    /**
     * A column and the array type its parameter is sent as; a saturating sum stops at the largest
     * bigint instead of failing the statement (see {@link dev.agentspend.analytics.domain.BatchDelta#addSaturated}).
     */
    record Column(String name, String arrayType, boolean saturating) {
        Column(String name, String arrayType) {
            this(name, arrayType, false);
        }

        /** {@code left + right} in SQL, as this column adds. */
        String plus(String left, String right) {
            return saturating ? saturatedSum(left + "::numeric + " + right) : left + " + " + right;
        }
    }

    /** A numeric expression as a bigint, at most the largest one. */
    static String saturatedSum(String numeric) {
        return "LEAST(" + numeric + ", 9223372036854775807)::int8";
    }

    AggregateAdd {
        if (keys.isEmpty() || sums.isEmpty()) {
            throw new IllegalArgumentException("an aggregate needs keys and sums: " + table);
        }
    }

    AggregateAdd(String table, List<Column> keys, List<Column> sums) {
        this(table, keys, sums, List.of());
    }

    String sql() {
        List<Column> all = new java.util.ArrayList<>(keys);
        all.addAll(sums);
        all.addAll(inserted);
        String params = IntStream.range(0, all.size())
                .mapToObj(i -> "$" + (i + 1) + "::" + all.get(i).arrayType())
                .collect(Collectors.joining(", "));
        String names = all.stream().map(Column::name).collect(Collectors.joining(", "));
        String keyNames = keys.stream().map(Column::name).collect(Collectors.joining(", "));
        String matchT = keys.stream().map(k -> "t." + k.name() + " = d." + k.name()).collect(Collectors.joining(" AND "));
        String matchU = keys.stream().map(k -> "u." + k.name() + " = d." + k.name()).collect(Collectors.joining(" AND "));
        String addD = sums.stream().map(s -> s.name() + " = " + s.plus("t." + s.name(), "d." + s.name()))
                .collect(Collectors.joining(", "));
        String addExcluded = sums.stream().map(s -> s.name() + " = " + s.plus("t." + s.name(), "excluded." + s.name()))
                .collect(Collectors.joining(", "));
        String returning = keys.stream().map(k -> "t." + k.name()).collect(Collectors.joining(", "));
        return "WITH d AS (SELECT * FROM unnest(" + params + ") AS d(" + names + ")),\n"
                + "u AS (UPDATE " + table + " AS t SET " + addD + " FROM d WHERE " + matchT + " RETURNING " + returning + ")\n"
                + "INSERT INTO " + table + " AS t (" + names + ")\n"
                + "SELECT d.* FROM d WHERE NOT EXISTS (SELECT 1 FROM u WHERE " + matchU + ")\n"
                + "ON CONFLICT (" + keyNames + ") DO UPDATE SET " + addExcluded;
    }
}
