-- Lookups of the engine's read model (waitpoint.inspect, which the operator console shows),
-- by index rather than by a scan that grows with the table (`waitpoint stats` shows the
-- sizes).

-- Every signal a job received, consumed ones included: the job page lists them with where
-- they came from. The pending-only index of 002 cannot answer that.
CREATE INDEX IF NOT EXISTS signals_job_idx ON {schema}.signals (job_id, id)
  WHERE job_id IS NOT NULL;

-- The jobs waiting for a signal (the Waiting page, the overview's count and oldest wait):
-- a small part of a large table, found without reading the rest.
CREATE INDEX IF NOT EXISTS jobs_waiting_idx ON {schema}.jobs (id)
  WHERE state IN ('scheduled', 'suspended') AND meta ? 'await';
