-- jobs_waiting_on_deps_idx indexed every suspended workflow step, including the many that
-- have no dependencies (steps snoozed waiting for a signal), and through GIN's pending
-- list: every lookup of dependents scanned all entries added since the last cleanup. With
-- 10,000 steps waiting on a broadcast, each of them completing looked through them all
-- (2 ms each, 20 s for the lot). Steps without deps are left out now (`deps @>` implies
-- `deps IS NOT NULL`, so the planner still uses the index), and entries go straight into
-- the index instead of a pending list: a few of them per workflow, looked up often.

DROP INDEX IF EXISTS {schema}.jobs_waiting_on_deps_idx;
CREATE INDEX jobs_waiting_on_deps_idx ON {schema}.jobs USING gin (deps)
  WITH (fastupdate = off)
  WHERE state = 'suspended' AND workflow_id IS NOT NULL AND deps IS NOT NULL;
