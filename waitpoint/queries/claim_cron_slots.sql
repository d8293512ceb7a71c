-- Claim cron slots ($1 workers, $2 slots, pairwise); returns those not claimed before.
INSERT INTO {schema}.cron_slots (worker, slot)
SELECT * FROM unnest($1::text[], $2::timestamptz[])
ON CONFLICT (worker, slot) DO NOTHING
RETURNING worker, slot
