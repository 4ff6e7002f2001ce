-- Tenants and the key hierarchy. Every tenant table is keyed by tenant_id first, FORCEs row-level
-- security, and is visible only inside a transaction that SET LOCAL custos.tenant to its tenant.

CREATE TABLE service_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    root_kcv bytea NOT NULL,            -- HMAC-SHA-256(root key, "custos key check v1")
    created_at timestamptz NOT NULL DEFAULT now(),
    rotated_at timestamptz
);

CREATE TABLE tenants (
    tenant_id text PRIMARY KEY CHECK (tenant_id ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name text NOT NULL,
    current_kek_version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Tenant key-encryption keys, wrapped by the root key (AES-256-GCM, AAD names tenant and
-- version). A destroyed version keeps its row for the history, without key material.
CREATE TABLE tenant_keys (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    version integer NOT NULL,
    state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'retired', 'destroyed')),
    wrapped bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz,
    destroyed_at timestamptz,
    PRIMARY KEY (tenant_id, version),
    CHECK ((state = 'destroyed') = (wrapped IS NULL))
);

-- Per-tenant keys for blind indexes, deterministic tokens, FF1 and the audit MAC, wrapped by
-- the tenant's KEK.
CREATE TABLE tenant_data_keys (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    purpose text NOT NULL CHECK (purpose IN ('index', 'token', 'ff1', 'audit')),
    kek_version integer NOT NULL,
    wrapped bytea NOT NULL,
    PRIMARY KEY (tenant_id, purpose)
);

-- One data key per data subject (and version: a key is replaced long before 2^32 GCM
-- encryptions, SP 800-38D §8.3), wrapped by the tenant's KEK. Deleting the rows of a subject
-- is its crypto-shredding.
CREATE TABLE subject_keys (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    subject_id text NOT NULL,
    version integer NOT NULL DEFAULT 1,
    kek_version integer NOT NULL,
    wrapped bytea NOT NULL,
    encryptions bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subject_id, version)
);
CREATE INDEX subject_keys_kek ON subject_keys (tenant_id, kek_version);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenants', 'tenant_keys', 'tenant_data_keys', 'subject_keys'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
                          USING (tenant_id = current_setting(''custos.tenant'', true))
                          WITH CHECK (tenant_id = current_setting(''custos.tenant'', true))', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO custos_app', t);
    END LOOP;
END
$$;
-- The platform operator (vault:admin) lists tenants and the background jobs walk them: read-only.
CREATE POLICY platform_list ON tenants FOR SELECT
    USING (current_setting('custos.platform', true) = 'on');
GRANT SELECT, INSERT, UPDATE ON service_state TO custos_app;
