-- The ids of the jobs a filter matches (as list_jobs), newest first after cursor $1, up to
-- $7: what a bulk action walks through.
SELECT id FROM {schema}.jobs
WHERE id < $1
  AND ($2::{schema}.job_state IS NULL OR state = $2::{schema}.job_state)
  AND ($3::text IS NULL OR queue = $3)
  AND ($4::text IS NULL OR worker = $4)
  AND ($5::text IS NULL OR $5 = ANY(tags))
  AND ($6::text IS NULL OR strpos(args::text, $6) > 0)
ORDER BY id DESC
LIMIT $7
