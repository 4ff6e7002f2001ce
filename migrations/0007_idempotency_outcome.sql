-- Idempotency keys remember the outcome of the first request (enum cu_outcome: 0 done,
-- 1 created, 2 partial, 3 accepted) instead of an HTTP status: the services know no HTTP. The
-- column keeps its name; rows written before hold statuses, converted here (200 was only ever
-- a partial tokenize).
UPDATE idempotency_keys SET status = CASE status WHEN 201 THEN 1 WHEN 200 THEN 2 WHEN 202 THEN 3
                                                 ELSE 0 END
    WHERE status >= 100;
UPDATE platform_idempotency SET status = CASE status WHEN 201 THEN 1 WHEN 200 THEN 2
                                                     WHEN 202 THEN 3 ELSE 0 END
    WHERE status >= 100;
COMMENT ON COLUMN idempotency_keys.status IS 'enum cu_outcome of the first request';
COMMENT ON COLUMN platform_idempotency.status IS 'enum cu_outcome of the first request';
