-- Upsert this node's producers; their heartbeat tells the lifeline they are alive, and
-- `waitpoint queues` what each runs.
INSERT INTO {schema}.producers (uuid, node, queue, limit_, paused, running)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::integer[], $5::boolean[],
                     $6::integer[])
ON CONFLICT (uuid) DO UPDATE
SET updated_at = now(), limit_ = excluded.limit_, paused = excluded.paused,
    running = excluded.running
