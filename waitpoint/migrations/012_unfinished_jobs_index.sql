-- Counting unfinished jobs per queue and state (the metrics' sample, the console) reads
-- this index instead of the whole table, whose finished rows are most of it. The id makes
-- every entry distinct: with (queue, state) alone, 100,000 waiting jobs were 100,000
-- duplicates of one key, and each job entering a wait landed at a random place among them
-- (posting-list splits): 100,000 jobs snoozed at a third of the rate. Ids grow, so new
-- entries of a (queue, state) go to its end.
CREATE INDEX IF NOT EXISTS jobs_unfinished_idx ON {schema}.jobs (queue, state, id)
  WHERE state NOT IN ('completed', 'cancelled', 'discarded');
