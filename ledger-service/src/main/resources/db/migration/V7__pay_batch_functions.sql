-- Functions for a Pay batch, which holds the feed position lock from its entries statement to its
-- commit and so should not wait for the service in between.
--
-- pay_response: a Pay's stored response (ledger.idempotency.response), built inside the statement
-- that inserts its entry, so entries and idempotency rows go in one statement instead of the
-- second waiting for the entries' positions to come back to the service.
--
-- The bytes are those the service wrote before (PayResponse.toByteArray() of the entry with its
-- position): an entry's payload is the Entry without its position (field 1), and protobuf writes
-- fields in field-number order, so "tag 1, varint position" followed by the payload is the whole
-- Entry; PayResponse is field 1 (length-delimited) around it. Replays parse it as before, and
-- pods of the previous release read the rows this writes unchanged.

-- Protobuf's base-128 varint of a non-negative number, low group first.
CREATE FUNCTION ledger.protobuf_varint(value bigint) RETURNS bytea
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    rest bigint := value;
    encoded bytea := '\x'::bytea;
BEGIN
    IF rest < 0 THEN
        RAISE EXCEPTION 'protobuf_varint: % is negative', value;
    END IF;
    WHILE rest >= 128 LOOP
        encoded := encoded || set_byte('\x00'::bytea, 0, ((rest & 127) | 128)::int);
        rest := rest >> 7;
    END LOOP;
    RETURN encoded || set_byte('\x00'::bytea, 0, rest::int);
END
$$;

-- PayResponse{entry = payload + position}. A position is at least 1 (proto3 leaves 0 out).
CREATE FUNCTION ledger.pay_response(entry_payload bytea, entry_position bigint) RETURNS bytea
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    entry bytea;
BEGIN
    IF entry_position < 1 THEN
        RAISE EXCEPTION 'pay_response: position % is not a ledger position', entry_position;
    END IF;
    entry := '\x08'::bytea || ledger.protobuf_varint(entry_position) || entry_payload;
    RETURN '\x0a'::bytea || ledger.protobuf_varint(length(entry)) || entry;
END
$$;

-- Sent with COMMIT in one simple query by a batch that pipelines its COMMIT behind its entries
-- statement: fails the transaction (so the COMMIT after it never runs) unless that statement
-- wrote the batch's last entry. The client skips a statement it refuses before sending (a
-- parameter of the wrong type) and sends the next one; without this check a COMMIT could then
-- keep balances and counters without their entries.
CREATE FUNCTION ledger.require_entry(written_entry_id text) RETURNS void
    LANGUAGE plpgsql STABLE STRICT AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ledger.entries WHERE entry_id = written_entry_id) THEN
        RAISE EXCEPTION 'entry % was not written in this transaction: it must not commit', written_entry_id;
    END IF;
END
$$;
