-- Jobs, newest first: one page after cursor $1 (keyset). State and queue come from an
-- index (jobs_unfinished_idx for unfinished states, else the primary key); worker, tag
-- and args text ($4, $5, $6) are checked on at most $7 candidates, so a page costs a
-- bounded time and says how far it looked.
WITH candidates AS (
  SELECT id FROM {schema}.jobs
  WHERE id < $1
    AND ($2::{schema}.job_state IS NULL OR state = $2::{schema}.job_state)
    AND ($3::text IS NULL OR queue = $3)
  ORDER BY id DESC
  LIMIT $7
), matched AS (
  SELECT j.id, j.state::text AS state, j.queue, j.worker, j.args, j.tags, j.attempt,
         j.max_attempts, j.inserted_at, j.scheduled_at, j.attempted_at,
         coalesce(j.completed_at, j.cancelled_at, j.discarded_at) AS finished_at,
         j.meta -> 'await' AS wait, j.workflow_id, j.step
  FROM candidates c JOIN {schema}.jobs j ON j.id = c.id
  WHERE ($4::text IS NULL OR j.worker = $4)
    AND ($5::text IS NULL OR $5 = ANY(j.tags))
    AND ($6::text IS NULL OR strpos(j.args::text, $6) > 0)
  ORDER BY j.id DESC
  LIMIT $8
)
SELECT m.*, (SELECT min(id) FROM candidates) AS examined_to,
       (SELECT count(*) FROM candidates) AS examined
FROM (SELECT 1) AS one LEFT JOIN matched m ON true
ORDER BY m.id DESC
