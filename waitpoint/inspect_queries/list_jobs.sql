-- Jobs, newest first: one page after cursor $1 (keyset). State and queue come from an
-- index (jobs_unfinished_idx for unfinished states, else the primary key); worker, tag
-- and args text ($4, $5, $6) are checked on at most $7 candidates, so a page costs a
-- bounded time and says how far it looked. The state is bound as the enum: compared as
-- text, no index would serve it.
WITH candidates AS (
  SELECT id AS candidate FROM {schema}.jobs
  WHERE id < $1
    AND ($2::{schema}.job_state IS NULL OR state = $2::{schema}.job_state)
    AND ($3::text IS NULL OR queue = $3)
  ORDER BY id DESC
  LIMIT $7
), matched AS (
  SELECT {job_columns}
  FROM candidates c JOIN {schema}.jobs j ON j.id = c.candidate
  WHERE ($4::text IS NULL OR j.worker = $4)
    AND ($5::text IS NULL OR $5 = ANY(j.tags))
    AND ($6::text IS NULL OR strpos(j.args::text, $6) > 0)
  ORDER BY j.id DESC
  LIMIT $8
)
SELECT m.*, (SELECT min(candidate) FROM candidates) AS examined_to,
       (SELECT count(*) FROM candidates) AS examined
FROM (SELECT 1) AS one LEFT JOIN matched m ON true
ORDER BY m.id DESC
