-- A token names one value, always (issue 14). token_names holds every token issued in a
-- tenant with the collection and field it belongs to. Its rows are never deleted but with their
-- tenant: a deleted or erased record's tokens stay reserved (they answer 410) and are never
-- issued again. shared: a deterministic token (tokd_, format_preserving_deterministic), a
-- function of the value, which names that one value in any number of records of its field;
-- any other token names one value of one record. Every tokens row must match its name (the
-- foreign key below): a token of another field is refused by the database.

CREATE TABLE token_names (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    token text NOT NULL,
    collection text NOT NULL,
    field text NOT NULL,
    shared boolean NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, token),
    UNIQUE (tenant_id, token, collection, field)
);
ALTER TABLE token_names ENABLE ROW LEVEL SECURITY;
ALTER TABLE token_names FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON token_names
    USING (tenant_id = current_setting('custos.tenant', true))
    WITH CHECK (tenant_id = current_setting('custos.tenant', true));
-- reservations: the service adds names, never changes or removes one
GRANT SELECT, INSERT ON token_names TO custos_app;

-- Tokens issued before: each is owned by the collection and field of its earliest row. Before
-- this migration random tokens began with tok_ and every other kind was deterministic.
INSERT INTO token_names (tenant_id, token, collection, field, shared, created_at)
SELECT DISTINCT ON (tenant_id, token) tenant_id, token, collection, field,
       token NOT LIKE 'tok\_%', created_at
FROM tokens
ORDER BY tenant_id, token, created_at, record_id, field;

-- A later row of the same token in another field (two format-preserving fields whose FF1
-- tokens met, or a forged collision): that record's value gets a new random tok_ token, and the
-- old token keeps naming its first owner's value only.
CREATE FUNCTION pg_temp.custos_random_token() RETURNS text
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    h text := replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '');
    n numeric := 0;
    s text := '';
    a text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
BEGIN
    -- 128 bits: the random nibbles of two version-4 UUIDs (their version nibbles skipped)
    h := substr(h, 1, 12) || substr(h, 14, 19) || substr(h, 33, 12) || substr(h, 46, 1);
    FOR i IN 1..32 LOOP
        n := n * 16 + position(substr(h, i, 1) IN '0123456789abcdef') - 1;
    END LOOP;
    FOR i IN 1..22 LOOP
        s := substr(a, (n % 62)::int + 1, 1) || s;
        n := floor(n / 62);
    END LOOP;
    RETURN 'tok_' || s;
END
$$;

DO $$
DECLARE
    c record;
    t text;
BEGIN
    FOR c IN SELECT k.tenant_id, k.token, k.record_id, k.collection, k.field, k.revoked,
                    k.created_at
             FROM tokens k
             JOIN token_names n ON n.tenant_id = k.tenant_id AND n.token = k.token
             WHERE (n.collection, n.field) <> (k.collection, k.field) LOOP
        t := pg_temp.custos_random_token();
        INSERT INTO token_names (tenant_id, token, collection, field, shared)
            VALUES (c.tenant_id, t, c.collection, c.field, false);
        INSERT INTO tokens (tenant_id, token, record_id, collection, field, revoked, created_at)
            VALUES (c.tenant_id, t, c.record_id, c.collection, c.field, c.revoked, c.created_at);
        UPDATE record_values SET token = t
            WHERE tenant_id = c.tenant_id AND record_id = c.record_id AND field = c.field
              AND token = c.token;
        DELETE FROM tokens
            WHERE tenant_id = c.tenant_id AND token = c.token AND record_id = c.record_id
              AND field = c.field;
    END LOOP;
END
$$;

ALTER TABLE tokens ADD CONSTRAINT tokens_name
    FOREIGN KEY (tenant_id, token, collection, field)
    REFERENCES token_names (tenant_id, token, collection, field);
