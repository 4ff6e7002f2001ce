-- Contact-center controls of principals (issue 12 items 1-4): roles a token's `roles` claim
-- names (scopes and the controls on plain reveals), interactions opened by the telephony/CTI
-- platform, and the plain reveals counted against a role's hourly budget. Tenant tables as in
-- 0003: tenant_id first, FORCE ROW LEVEL SECURITY.
CREATE TABLE roles (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    name text NOT NULL,
    scopes text[] NOT NULL,
    plain_requires_mfa boolean NOT NULL DEFAULT false,
    plain_reveals_per_hour integer CHECK (plain_reveals_per_hour >= 0),
    interaction_bound boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);

-- An interaction is live from created_at until expires_at, or until it is ended (DELETE).
CREATE TABLE interactions (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    id text NOT NULL,
    principal text NOT NULL,
    subject_id text NOT NULL,
    channel text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ended_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);
-- what a reveal asks: the live interactions of one principal
CREATE INDEX interactions_live ON interactions (tenant_id, principal, expires_at)
    WHERE ended_at IS NULL;

-- Plain reveals of budgeted principals, per minute: written with the reveal's audit entries
-- (the same statement, so a reveal counts exactly when its entry is durable), read as the sum
-- of the last 61 buckets (a sliding hour, to the minute, never shorter than an hour).
CREATE TABLE reveal_use (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    principal text NOT NULL,
    bucket timestamptz NOT NULL,
    n integer NOT NULL,
    PRIMARY KEY (tenant_id, principal, bucket)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['roles', 'interactions', 'reveal_use'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
                          USING (tenant_id = current_setting(''custos.tenant'', true))
                          WITH CHECK (tenant_id = current_setting(''custos.tenant'', true))', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO custos_app', t);
    END LOOP;
END
$$;
