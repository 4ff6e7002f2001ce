-- Data subjects (issue 11 items 1-4, 7, 8): legal holds and the DSR workflow. Erasure itself
-- needs no table: it deletes the subject's key rows (crypto-shredding) and values, and leaves
-- each record as a tombstone (deleted_at, no value) whose tokens answer 410. Tenant tables as
-- in 0003: tenant_id first, FORCE ROW LEVEL SECURITY.

-- A legal hold: while a row exists, nothing of the subject is erased (direct, DSR, retention).
-- reason: free text from the operator (a case number, not customer data).
CREATE TABLE subject_holds (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    subject_id text NOT NULL,
    reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    principal text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- the retention sweep audits a skip at most once a day per held subject
    skip_audited_at timestamptz,
    PRIMARY KEY (tenant_id, subject_id)
);

-- Data-subject requests on the statutory clock. due_at is computed by the service
-- (service/dsr_clock.c) from received_at; extended once. receipt: the erasure receipt of an
-- executed erasure (ids and a MAC, no value).
CREATE TABLE dsr_requests (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    id text NOT NULL,
    subject_id text NOT NULL,
    type text NOT NULL CHECK (type IN ('access', 'portability', 'rectification', 'erasure',
                                       'restriction', 'opt_out')),
    regulation text NOT NULL CHECK (regulation IN ('gdpr', 'ccpa')),
    status text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'completed',
                                                              'blocked')),
    received_at timestamptz NOT NULL,
    due_at timestamptz NOT NULL,
    extended_at timestamptz,
    extension_reason text,
    blocked_reason text,
    completed_at timestamptz,
    receipt jsonb,
    principal text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX dsr_requests_open ON dsr_requests (tenant_id, status, due_at);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['subject_holds', 'dsr_requests'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
                          USING (tenant_id = current_setting(''custos.tenant'', true))
                          WITH CHECK (tenant_id = current_setting(''custos.tenant'', true))', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO custos_app', t);
    END LOOP;
END
$$;
