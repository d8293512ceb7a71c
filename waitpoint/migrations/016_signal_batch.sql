-- Signal a batch: the one place the engine's rule for delivering a signal and waking the
-- job it reaches is written (signal_job_batch()), for callers that deliver many signals in
-- one transaction (the receiver's group commit, a replay); signal_batch() takes keyed and
-- workflow deliveries too, and signal_jobs() is the batch of one.
--
-- Lock order (what keeps two batches, or a batch and a worker, from deadlocking): the
-- live target jobs are locked in id order before anything is written; then the job
-- signals in one statement; then keyed and workflow deliveries one at a time, in delivery
-- order (signal_key() serialises on its key). A caller that writes rows of its own in the
-- same transaction and must not wait on them while holding a job (the receiver's events)
-- takes the job locks first with lock_signal_targets() and hands what it returned over.

-- Lock the live jobs among `job_ids` (not completed, cancelled or discarded), in id order,
-- and return them: these are the jobs a job signal to `job_ids` reaches.
CREATE OR REPLACE FUNCTION {schema}.lock_signal_targets(job_ids bigint[]) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
  locked bigint[];
BEGIN
  SELECT coalesce(array_agg(l.id ORDER BY l.id), '{}') INTO locked FROM (
    SELECT j.id FROM {schema}.jobs j
    WHERE j.id = ANY(ARRAY(SELECT DISTINCT unnest(job_ids)))
      AND j.state NOT IN ('completed', 'cancelled', 'discarded')
    ORDER BY j.id
    FOR UPDATE OF j
  ) l;
  RETURN locked;
END;
$$;

-- Deliver a batch of job signals: the rule for a signal to a job, written once. One
-- element per delivery in `payloads` (erlpack), `names` (NULL: unnamed) and `sources`;
-- which jobs each delivery names comes as (delivery, job) pairs. Each live target gets the
-- signal; a job snoozed waiting for that name (awaits_job_signal) becomes available; the
-- jobs signalled are told (NOTIFY, once for the batch) and returned. `locked_targets`: what
-- lock_signal_targets(job_ids) returned earlier in this transaction, when the caller took
-- the locks first (the receiver does, before it writes its events); NULL: taken here.
CREATE OR REPLACE FUNCTION {schema}.signal_job_batch(
  payloads bytea[], names text[], sources text[],
  job_deliveries integer[], job_ids bigint[], locked_targets bigint[] DEFAULT NULL
) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
  locked bigint[] := coalesce(locked_targets, {schema}.lock_signal_targets(job_ids));
  signalled bigint[];
BEGIN
  WITH targets AS (
    SELECT DISTINCT ON (t.delivery, t.job) t.job, d.payload, d.name, d.source, t.delivery, t.n
    FROM unnest(job_deliveries, job_ids) WITH ORDINALITY AS t(delivery, job, n)
    JOIN unnest(payloads, names, sources) WITH ORDINALITY AS d(payload, name, source, delivery)
      ON d.delivery = t.delivery
    JOIN unnest(locked) AS l(id) ON l.id = t.job
    ORDER BY t.delivery, t.job, t.n
  ), stored AS (
    INSERT INTO {schema}.signals (job_id, payload, source, name)
    SELECT job, payload, source, name FROM targets ORDER BY delivery, n
    RETURNING job_id
  ), waking AS (
    UPDATE {schema}.jobs j SET state = 'available', scheduled_at = now()
    WHERE j.id = ANY(ARRAY(SELECT DISTINCT job FROM targets))
      AND j.state IN ('scheduled', 'suspended')
      AND EXISTS (SELECT 1 FROM targets t WHERE t.job = j.id
                  AND {schema}.awaits_job_signal(j.meta -> 'await', t.name))
    RETURNING j.id
  )
  SELECT coalesce(array_agg(DISTINCT job_id ORDER BY job_id), '{}') INTO signalled
  FROM stored, (SELECT count(*) FROM waking) w;
  PERFORM {schema}.notify_signalled(signalled);
  RETURN signalled;
END;
$$;

-- Deliver a batch of signals of every kind: job deliveries through signal_job_batch(),
-- then keyed and workflow deliveries one at a time in delivery order. One element per
-- delivery (numbered from 1) in `payloads`, `names` (a job or step signal's name, a
-- broadcast's signal name; NULL: unnamed), `sources`, `keys` and `keep_fors` (seconds,
-- NULL: kept until consumed) for a keyed delivery, `workflows` and `propagates` for a
-- workflow delivery (shorter arrays, or NULL, read as NULL past their end: a batch of job
-- deliveries passes NULL for all four). Which jobs a job delivery names comes as
-- (delivery, job) pairs, which steps a workflow delivery names as (delivery, step) pairs:
-- a workflow delivery without steps sets the workflow's named signal (a broadcast). A
-- delivery with neither key nor workflow is a job delivery. `locked_targets` as for
-- signal_job_batch().
--
-- Returns, per delivery, what it reached: job ids, or for a broadcast the workflow ids.
CREATE OR REPLACE FUNCTION {schema}.signal_batch(
  payloads bytea[], names text[], sources text[],
  keys text[], keep_fors double precision[], workflows bigint[], propagates boolean[],
  job_deliveries integer[], job_ids bigint[],
  step_deliveries integer[], step_names text[],
  locked_targets bigint[] DEFAULT NULL
)
RETURNS TABLE (delivery integer, reached bigint[])
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  locked bigint[] := coalesce(locked_targets, {schema}.lock_signal_targets(job_ids));
  other record;
  other_reached bigint[];
  others integer[] := '{}';
  others_reached text[] := '{}';
BEGIN
  -- A pair's delivery is a job delivery: keyed and workflow deliveries come without pairs.
  PERFORM {schema}.signal_job_batch(payloads, names, sources, job_deliveries, job_ids,
                                    locked);

  IF keys IS NOT NULL OR workflows IS NOT NULL THEN
    FOR other IN
      SELECT d.delivery::integer AS delivery, d.payload, d.name, d.source, d.key, d.keep_for,
             d.workflow, d.propagate,
             ARRAY(SELECT s.step FROM unnest(step_deliveries, step_names)
                     WITH ORDINALITY AS s(delivery, step, n)
                   WHERE s.delivery = d.delivery ORDER BY s.n) AS steps
      FROM unnest(payloads, names, sources, keys, keep_fors, workflows, propagates)
        WITH ORDINALITY AS d(payload, name, source, key, keep_for, workflow, propagate,
                             delivery)
      WHERE d.key IS NOT NULL OR d.workflow IS NOT NULL
      ORDER BY d.delivery
    LOOP
      IF other.key IS NOT NULL THEN
        other_reached := {schema}.signal_key(other.key, other.payload, other.source,
                                             make_interval(secs => other.keep_for));
      ELSIF cardinality(other.steps) > 0 THEN
        other_reached := {schema}.signal_jobs(
          {schema}.workflow_step_ids(other.workflow, other.steps), other.payload,
          other.source, other.name);
      ELSE
        other_reached := {schema}.broadcast_workflow_signal(
          other.workflow, other.name, other.payload, other.source,
          coalesce(other.propagate, true));
      END IF;
      others := others || other.delivery;
      others_reached := others_reached || other_reached::text;
    END LOOP;
  END IF;

  RETURN QUERY
  WITH job_reach AS (
    SELECT t.delivery, array_agg(DISTINCT t.job ORDER BY t.job) AS reached
    FROM unnest(job_deliveries, job_ids) AS t(delivery, job)
    JOIN unnest(locked) AS l(id) ON l.id = t.job
    GROUP BY t.delivery
  ), other_reach AS (
    SELECT o.delivery, o.reached::bigint[] AS reached
    FROM unnest(others, others_reached) AS o(delivery, reached)
  )
  SELECT d.n::integer,
         CASE WHEN d.key IS NULL AND d.workflow IS NULL THEN coalesce(j.reached, '{}')
              ELSE coalesce(o.reached, '{}') END
  FROM unnest(payloads, keys, workflows) WITH ORDINALITY AS d(payload, key, workflow, n)
  LEFT JOIN job_reach j ON j.delivery = d.n
  LEFT JOIN other_reach o ON o.delivery = d.n
  ORDER BY d.n;
END;
$$;

-- Deliver one payload to jobs by id: the batch of one.
CREATE OR REPLACE FUNCTION {schema}.signal_jobs(target_ids bigint[], signal_payload bytea,
                                                signal_source text, signal_name text)
RETURNS bigint[]
LANGUAGE plpgsql AS $$
BEGIN
  RETURN {schema}.signal_job_batch(ARRAY[signal_payload], ARRAY[signal_name],
                                   ARRAY[signal_source],
                                   array_fill(1, ARRAY[cardinality(target_ids)]), target_ids);
END;
$$;
