-- The vault: collections, purposes, records, encrypted values, tokens, the audit trail and
-- idempotency. Tenant tables as in 0002: tenant_id first, FORCE ROW LEVEL SECURITY.

CREATE TABLE collections (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    fields jsonb NOT NULL,
    retention_days integer CHECK (retention_days IS NULL OR retention_days > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE purposes (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
    description text NOT NULL DEFAULT '',
    lawful_basis text NOT NULL CHECK (lawful_basis IN ('consent', 'contract', 'legal_obligation',
        'vital_interests', 'public_task', 'legitimate_interests')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE records (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    id text NOT NULL,
    collection text NOT NULL,
    subject_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, collection) REFERENCES collections (tenant_id, name)
);
CREATE INDEX records_subject ON records (tenant_id, subject_id);
CREATE INDEX records_collection ON records (tenant_id, collection, created_at);

-- One encrypted value per record and field: AES-256-GCM under the subject's key version,
-- AAD = tenant | collection | record id | field | key version. blind_index: HMAC-SHA-256 of the
-- normalized value under the tenant's index key, for searchable fields only.
CREATE TABLE record_values (
    tenant_id text NOT NULL,
    record_id text NOT NULL,
    collection text NOT NULL,
    field text NOT NULL,
    key_version integer NOT NULL,
    ciphertext bytea NOT NULL,
    blind_index bytea,
    token text NOT NULL,
    PRIMARY KEY (tenant_id, record_id, field),
    FOREIGN KEY (tenant_id, record_id) REFERENCES records (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX record_values_search ON record_values (tenant_id, collection, field, blind_index)
    WHERE blind_index IS NOT NULL;

-- Token → record field. A deterministic or format-preserving token may stand for the same
-- value in several records (one row each). revoked: the token no longer stands for the
-- record's value (rectified away); the record's deletion shows through records.deleted_at.
CREATE TABLE tokens (
    tenant_id text NOT NULL,
    token text NOT NULL,
    record_id text NOT NULL,
    collection text NOT NULL,
    field text NOT NULL,
    revoked boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, token, record_id, field),
    FOREIGN KEY (tenant_id, record_id) REFERENCES records (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX tokens_record ON tokens (tenant_id, record_id);

-- Audit: appended in the same transaction as the access it records (fail closed); chained
-- and sealed later by a job ordered by seq (prev_hash/hash NULL until sealed). Never a value.
CREATE TABLE audit_log (
    tenant_id text NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    ts timestamptz NOT NULL DEFAULT clock_timestamp(),
    principal text NOT NULL,
    action text NOT NULL,
    collection text,
    fields text[],
    record_id text,
    subject_id text,
    purpose text,
    redaction text,
    outcome text NOT NULL,
    request_id text,
    prev_hash bytea,
    hash bytea,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_log_time ON audit_log (tenant_id, ts);

CREATE TABLE idempotency_keys (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    key text NOT NULL,
    request_hash bytea NOT NULL,
    status integer NOT NULL,
    response text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['collections', 'purposes', 'records', 'record_values', 'tokens',
                             'audit_log', 'idempotency_keys'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
                          USING (tenant_id = current_setting(''custos.tenant'', true))
                          WITH CHECK (tenant_id = current_setting(''custos.tenant'', true))', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO custos_app', t);
    END LOOP;
END
$$;
-- The audit trail is append-only for the service: no UPDATE or DELETE but by the sealer's
-- columns (prev_hash, hash), which it fills once.
REVOKE UPDATE, DELETE ON audit_log FROM custos_app;
GRANT UPDATE (prev_hash, hash) ON audit_log TO custos_app;
