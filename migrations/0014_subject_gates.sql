-- The facts that gate a read of a data subject's data (issue 11 items 5 and 6): restriction of
-- processing (GDPR Art. 18) and the consent ledger. Tenant tables as in 0003: tenant_id first,
-- FORCE ROW LEVEL SECURITY. Neither holds a value of the subject: ids, statuses, and the
-- evidence reference a consent was given with.

-- A restricted subject: while a row exists every read of its data is refused (423) unless the
-- purpose rests on legal_obligation. Lifting the restriction deletes the row; both steps are
-- in the audit trail.
CREATE TABLE subject_restrictions (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    subject_id text NOT NULL,
    reason text NOT NULL DEFAULT '',
    principal text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subject_id)
);

-- The consent ledger: every grant and withdrawal, append-only. A subject's current consent to
-- a purpose is its latest event (highest seq). Nothing of the service may change or remove an
-- event: no UPDATE or DELETE grant, and a trigger refuses both to any role, except the deletion
-- of a whole tenant (the foreign keys' cascade).
CREATE TABLE consent_events (
    tenant_id text NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    subject_id text NOT NULL,
    purpose text NOT NULL,
    status text NOT NULL CHECK (status IN ('granted', 'withdrawn')),
    source text NOT NULL CHECK (source IN ('ivr', 'agent', 'web', 'dsr')),
    evidence text NOT NULL DEFAULT '',
    principal text NOT NULL,
    request_id text,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, seq),
    FOREIGN KEY (tenant_id, purpose) REFERENCES purposes (tenant_id, name) ON DELETE CASCADE
);
-- the reveal's question: the latest event of (subject, purpose)
CREATE INDEX consent_events_current ON consent_events (tenant_id, subject_id, purpose, seq DESC);

CREATE FUNCTION custos_consent_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    -- depth 1: a statement on the table itself; deeper: a foreign key's cascade (a tenant or
    -- purpose deleted as a whole)
    IF TG_OP = 'DELETE' AND pg_trigger_depth() > 1 THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the consent ledger is append-only' USING ERRCODE = '42501';
END
$$;
CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events
    FOR EACH ROW EXECUTE FUNCTION custos_consent_append_only();
CREATE TRIGGER consent_events_no_truncate BEFORE TRUNCATE ON consent_events
    FOR EACH STATEMENT EXECUTE FUNCTION custos_consent_append_only();

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['subject_restrictions', 'consent_events'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
                          USING (tenant_id = current_setting(''custos.tenant'', true))
                          WITH CHECK (tenant_id = current_setting(''custos.tenant'', true))', t);
    END LOOP;
END
$$;
GRANT SELECT, INSERT, DELETE ON subject_restrictions TO custos_app;
GRANT SELECT, INSERT ON consent_events TO custos_app;
