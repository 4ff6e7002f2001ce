-- Idempotency keys of platform operations (tenant creation): not tenant rows, so visible only to
-- transactions that ask for them (custos.platform_idem = 'on'), and per principal. A tenant's
-- keys become per principal too: one principal's key never replays another's answer.
CREATE TABLE platform_idempotency (
    principal text NOT NULL,
    key text NOT NULL,
    request_hash bytea NOT NULL,
    status integer NOT NULL,
    response text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
ALTER TABLE platform_idempotency ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform_idempotency FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_only ON platform_idempotency
    USING (current_setting('custos.platform_idem', true) = 'on')
    WITH CHECK (current_setting('custos.platform_idem', true) = 'on');
GRANT SELECT, INSERT, DELETE ON platform_idempotency TO custos_app;
CREATE INDEX idempotency_keys_age ON idempotency_keys (tenant_id, created_at);
CREATE INDEX platform_idempotency_age ON platform_idempotency (created_at);
ALTER TABLE idempotency_keys ADD COLUMN principal text NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (tenant_id, principal, key);
