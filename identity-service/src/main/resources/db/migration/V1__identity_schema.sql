-- Skeleton: tables arrive with the identity implementation.
CREATE TABLE IF NOT EXISTS identity.schema_info (name text PRIMARY KEY, value text NOT NULL);
