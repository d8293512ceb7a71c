-- The leader's latest sample of queue depth and waits (its depth sampler, every
-- metrics_interval), kept where every process can read it: the console's overview shows
-- it instead of counting hundreds of thousands of unfinished jobs on every load.
CREATE TABLE IF NOT EXISTS {schema}.queue_samples (
  queue       text NOT NULL,
  state       text NOT NULL,
  jobs        bigint NOT NULL,
  sampled_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (queue, state)
);

CREATE TABLE IF NOT EXISTS {schema}.wait_samples (
  only_row          boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  waiting           bigint NOT NULL,
  oldest_since      timestamptz,
  nearest_deadline  timestamptz,
  sampled_at        timestamptz NOT NULL DEFAULT now()
);

-- Replace the sample: unfinished jobs per queue and state, and the waits.
CREATE OR REPLACE FUNCTION {schema}.record_depth_sample(
  queues text[], states text[], counts bigint[], waiting bigint, oldest_since timestamptz,
  nearest_deadline timestamptz
) RETURNS void
LANGUAGE sql AS $$
  DELETE FROM {schema}.queue_samples;
  INSERT INTO {schema}.queue_samples (queue, state, jobs)
  SELECT * FROM unnest(queues, states, counts);
  INSERT INTO {schema}.wait_samples (waiting, oldest_since, nearest_deadline)
  VALUES (waiting, oldest_since, nearest_deadline)
  ON CONFLICT (only_row) DO UPDATE
  SET waiting = excluded.waiting, oldest_since = excluded.oldest_since,
      nearest_deadline = excluded.nearest_deadline, sampled_at = now();
$$;
