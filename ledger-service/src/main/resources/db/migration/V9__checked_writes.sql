-- Checks that let a transaction send its writes, its entries and its COMMIT together, without
-- waiting for the writes' answers first.
--
-- Why: a Pay batch wrote its agent rows and counters, waited for their answers (row counts, which
-- the service checked: a counter update that found fewer rows than it read under the agents'
-- locks would be a delta lost, a silent overspend) and only then sent its entries and COMMIT. That
-- wait was a round trip in every batch while the next batch could not start. Checked here, inside
-- the statements, the answers are no longer needed before COMMIT.
--
-- A checked write is a statement that ends in ledger.require_rows: it fails the transaction unless
-- it wrote the rows it was meant to, and counts itself in the transaction-local setting
-- ledger.checked_writes. ledger.require_written goes with COMMIT in one simple query, as
-- require_entry did: it fails (and the COMMIT after it never runs) unless the entries statement
-- wrote the last entry and every checked write ran. The second half is for a statement the client
-- refuses before sending it (a parameter that does not fit): the client goes on with the next one,
-- and without the count a COMMIT could keep entries whose balances and counters were never written.

-- Fails the transaction unless written = expected; otherwise counts one checked write and returns written.
CREATE FUNCTION ledger.require_rows(written bigint, expected bigint, what text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF written IS DISTINCT FROM expected THEN
        RAISE EXCEPTION '%: % rows expected, % written: the transaction must not commit', what, expected, written
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    PERFORM set_config('ledger.checked_writes',
                       (COALESCE(NULLIF(current_setting('ledger.checked_writes', true), ''), '0')::int + 1)::text, true);
    RETURN written;
END
$$;

-- Fails the transaction unless the entry was written and exactly checked_writes checked writes ran in it.
CREATE FUNCTION ledger.require_written(written_entry_id text, checked_writes integer) RETURNS void
    LANGUAGE plpgsql STABLE STRICT AS $$
DECLARE
    ran integer := COALESCE(NULLIF(current_setting('ledger.checked_writes', true), ''), '0')::int;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ledger.entries WHERE entry_id = written_entry_id) THEN
        RAISE EXCEPTION 'entry % was not written in this transaction: it must not commit', written_entry_id;
    END IF;
    IF ran <> checked_writes THEN
        RAISE EXCEPTION '% of % checked writes ran in this transaction: it must not commit', ran, checked_writes;
    END IF;
END
$$;
