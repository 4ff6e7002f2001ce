-- Secure capture (issue 12 item 6): a single-use link the customer opens to type a value (a card
-- number) that the agent never hears or sees. The link's secret (256 random bits) is stored only
-- as its SHA-256. status moves once from 'pending' to 'completed', in the transaction that stores
-- the record (the UPDATE's row lock makes the change atomic across nodes); a pending session
-- past expires_at is expired. The record's tokens are read from tokens, never copied here.

CREATE TABLE capture_sessions (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    id text NOT NULL CHECK (id ~ '^cap_[0-9a-f]{32}$'),
    secret_hash bytea NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
    collection text NOT NULL,
    subject_id text NOT NULL,
    fields text[] NOT NULL CHECK (cardinality(fields) BETWEEN 1 AND 64),
    principal text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed')),
    record_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    completed_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, collection) REFERENCES collections (tenant_id, name) ON DELETE CASCADE,
    CHECK ((status = 'completed') = (record_id IS NOT NULL))
);
CREATE INDEX capture_sessions_expiry ON capture_sessions (expires_at);

ALTER TABLE capture_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE capture_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON capture_sessions
    USING (tenant_id = current_setting('custos.tenant', true))
    WITH CHECK (tenant_id = current_setting('custos.tenant', true));
-- The capture page knows only the secret: a platform-level read (custos.platform = 'on') finds
-- the tenant of a secret's hash; every other access is the tenant's.
CREATE POLICY capture_lookup ON capture_sessions FOR SELECT
    USING (current_setting('custos.platform', true) = 'on');
GRANT SELECT, INSERT, UPDATE ON capture_sessions TO custos_app;
