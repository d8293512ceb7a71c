-- The column list every query returns for a job, with jsonb as text so that any asyncpg
-- codec setup (ours, or a caller's connection) decodes it the same way.
id, state::text AS state, queue, worker, args::text AS args, meta::text AS meta, tags,
errors::text AS errors, attempt, max_attempts, priority, attempted_by, inserted_at,
scheduled_at, attempted_at, completed_at, cancelled_at, discarded_at, workflow_id, step, deps
