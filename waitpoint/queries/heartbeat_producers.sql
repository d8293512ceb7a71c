-- Upsert this node's producers; their heartbeat tells the lifeline they are alive.
INSERT INTO {schema}.producers (uuid, node, queue, limit_)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::integer[])
ON CONFLICT (uuid) DO UPDATE SET updated_at = now(), limit_ = excluded.limit_
