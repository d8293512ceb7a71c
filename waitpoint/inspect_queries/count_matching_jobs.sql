-- Before a bulk action: how many jobs a filter matches (at most $7, the bulk limit) and
-- the newest of them (jobs inserted after it are left alone). Filters as list_jobs.
SELECT count(*) AS matching, max(id) AS newest FROM (
  SELECT id FROM {schema}.jobs
  WHERE ($2::{schema}.job_state IS NULL OR state = $2::{schema}.job_state)
    AND ($3::text IS NULL OR queue = $3)
    AND ($4::text IS NULL OR worker = $4)
    AND ($5::text IS NULL OR $5 = ANY(tags))
    AND ($6::text IS NULL OR strpos(args::text, $6) > 0)
    AND id < $1
  LIMIT $7   -- no order: any index may serve the count (past $7 nothing runs anyway)
) matching
