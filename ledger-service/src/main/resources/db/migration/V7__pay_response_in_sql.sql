-- A Pay's stored response (ledger.idempotency.response) built inside the statement that inserts
-- its entry, so a batch writes entries and idempotency rows in one statement instead of waiting
-- for the entries' positions to come back to the service while it holds the feed position lock.
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
