-- A tenant's incarnation: random at creation, so that keys cached on a node for a deleted
-- tenant are never taken for the keys of a new tenant with the same id.
ALTER TABLE tenants ADD COLUMN incarnation text NOT NULL
    DEFAULT md5(random()::text || clock_timestamp()::text);
