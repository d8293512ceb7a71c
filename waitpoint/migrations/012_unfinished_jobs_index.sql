-- Counting unfinished jobs per queue and state (the metrics' sample, the console) reads
-- this index instead of the whole table, whose finished rows are most of it.
CREATE INDEX IF NOT EXISTS jobs_unfinished_idx ON {schema}.jobs (queue, state)
  WHERE state NOT IN ('completed', 'cancelled', 'discarded');
