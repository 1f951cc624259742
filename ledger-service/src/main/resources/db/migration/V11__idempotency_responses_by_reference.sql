-- An idempotency row refers to its entry (entry_position) instead of holding a copy of its response.
--
-- Why: a stored response is a message whose field 1 is the call's entry (V7), and the entry's bytes
-- are its payload in ledger.entries, written by the same statement. The copy made every payment's
-- idempotency row about 110 bytes longer in the table and in the WAL (the benchmark's WAL per
-- payment, pg_walinspect: ledger.idempotency 309 bytes, ledger.entries 397), and ran
-- ledger.pay_response on every row of every Pay batch, where only a replay ever reads it.
--
-- A row written from this release on has response NULL, entry_position its entry's position and
-- response_suffix the response's fields after the entry (NULL where the response is the entry alone:
-- Pay, CompleteTask, Credit, PayAgent, Reverse; the hold for Hold, Capture and Release). Rows written
-- before keep their response and read as before. ledger.stored_responses gives every row's response
-- bytes, built as ledger.pay_response built them at write time: the service reads that view.
--
-- Expand only: nothing is rewritten and no table is scanned. During a rolling update a pod of the
-- previous release that is asked to replay a request first answered by this release finds no
-- response and fails that call (UNAVAILABLE or INTERNAL to the client, nothing written); a retry
-- that reaches a pod of this release is answered. Replays of older requests work on both.
ALTER TABLE ledger.idempotency
    ADD COLUMN entry_position bigint,
    ADD COLUMN response_suffix bytea,
    ALTER COLUMN response DROP NOT NULL,
    -- every existing row has a response (the column was NOT NULL): NOT VALID skips a scan that could not fail
    ADD CONSTRAINT idempotency_response_or_entry
        CHECK (response IS NOT NULL OR entry_position IS NOT NULL) NOT VALID;

-- Every stored response, whole: the copy where a row has one, else its entry's response rebuilt.
CREATE VIEW ledger.stored_responses AS
SELECT i.caller, i.request_id, i.method, i.fingerprint, i.create_time,
       COALESCE(i.response,
                ledger.pay_response(e.payload, e.position) || COALESCE(i.response_suffix, '\x'::bytea)) AS response
FROM ledger.idempotency i
LEFT JOIN ledger.entries e ON e.position = i.entry_position;
