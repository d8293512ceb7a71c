-- Named signals. Job signals (queue-like: each consumed once, in order) get an optional
-- name: an unnamed wait consumes only unnamed signals, as before, and a wait for "payment"
-- only signals named "payment"; signals for a name nobody waits for yet are kept.
-- Workflow signals are state, not a queue: one latest value per (workflow, name), set by a
-- broadcast that can travel to sub-workflows and parents, read by any number of steps.
--
-- A job's wait is described by meta.await: {call, key?, deadline?, snoozed_at?, names?,
-- scope?}. No `names`: an unnamed wait. scope "workflow": a wait for a workflow signal.

ALTER TABLE {schema}.signals ADD COLUMN IF NOT EXISTS name text;

ALTER TABLE {schema}.workflows
  ADD COLUMN IF NOT EXISTS propagate_to_parent boolean NOT NULL DEFAULT true;

CREATE TABLE IF NOT EXISTS {schema}.workflow_signals (
  workflow_id  bigint NOT NULL REFERENCES {schema}.workflows (id) ON DELETE CASCADE,
  name         text NOT NULL,
  payload      bytea NOT NULL,       -- erlpack-encoded
  source       text,
  origin       bigint NOT NULL,      -- the workflow the broadcast was sent to
  set_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workflow_id, name)
);

-- Does a job's wait (its meta.await) take a job signal named `signal_name` (NULL: unnamed)?
CREATE OR REPLACE FUNCTION {schema}.awaits_job_signal(wait jsonb, signal_name text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT wait IS NOT NULL AND NOT wait ? 'scope'
         AND CASE WHEN signal_name IS NULL THEN NOT wait ? 'names'
                  ELSE coalesce(wait -> 'names' ? signal_name, false) END
$$;

-- Deliver one payload to jobs by id, under a name (NULL: unnamed). Only a snoozed job that
-- waits for this name is woken; the signal is kept for any other until it waits for it.
CREATE OR REPLACE FUNCTION {schema}.signal_jobs(target_ids bigint[], signal_payload bytea,
                                     signal_source text, signal_name text)
RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
  reached bigint[];
BEGIN
  SELECT coalesce(array_agg(id), '{}') INTO reached FROM (
    SELECT j.id FROM {schema}.jobs j
    JOIN (SELECT DISTINCT unnest(target_ids) AS id) t ON t.id = j.id
    WHERE j.state NOT IN ('completed', 'cancelled', 'discarded')
    ORDER BY j.id
    FOR UPDATE OF j
  ) locked;

  INSERT INTO {schema}.signals (job_id, payload, source, name)
  SELECT unnest(reached), signal_payload, signal_source, signal_name;

  UPDATE {schema}.jobs j SET state = 'available', scheduled_at = now()
  FROM unnest(reached) AS r(id)
  WHERE j.id = r.id AND j.state IN ('scheduled', 'suspended')
    AND {schema}.awaits_job_signal(j.meta -> 'await', signal_name);

  PERFORM {schema}.notify_signalled(reached);
  RETURN reached;
END;
$$;

CREATE OR REPLACE FUNCTION {schema}.signal_jobs(target_ids bigint[], signal_payload bytea,
                                                signal_source text)
RETURNS bigint[]
LANGUAGE sql AS $$
  SELECT {schema}.signal_jobs(target_ids, signal_payload, signal_source, NULL::text)
$$;

-- Consume the oldest pending job signal among `wait_names` (NULL: unnamed ones), then, for
-- a keyed wait, the oldest kept keyed signal; record it on the job as call `call` with its
-- name, and return it. With `register`, a keyed waiter that found nothing is marked as
-- waiting on the key, so that a keyed signal delivered meanwhile reaches it.
CREATE OR REPLACE FUNCTION {schema}.consume_named_signal(
  target_job bigint, call integer, wait_key text, register boolean, wait_names text[],
  OUT payload bytea, OUT signal_name text, OUT db_now timestamptz
)
LANGUAGE plpgsql AS $$
DECLARE
  signal_id bigint;
BEGIN
  db_now := clock_timestamp();

  SELECT id INTO signal_id FROM {schema}.signals
  WHERE job_id = target_job AND consumed_at IS NULL
    AND (CASE WHEN wait_names IS NULL THEN name IS NULL ELSE name = ANY(wait_names) END)
  ORDER BY id LIMIT 1
  FOR UPDATE SKIP LOCKED;

  IF signal_id IS NULL AND wait_key IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(hashtext('{schema}.key:' || wait_key));
    SELECT id INTO signal_id FROM {schema}.signals
    WHERE key = wait_key AND job_id IS NULL AND consumed_at IS NULL
      AND (expires_at IS NULL OR expires_at > now())
    ORDER BY id LIMIT 1
    FOR UPDATE SKIP LOCKED;
  END IF;

  IF signal_id IS NULL THEN
    IF register AND wait_key IS NOT NULL THEN
      UPDATE {schema}.jobs
      SET meta = meta || jsonb_build_object('await', coalesce(meta -> 'await', '{}'::jsonb)
                 || jsonb_build_object('call', call, 'key', wait_key))
      WHERE id = target_job;
    END IF;
    RETURN;
  END IF;

  UPDATE {schema}.signals
  SET job_id = target_job, consumed_at = now(), consumed_call = call
  WHERE id = signal_id
  RETURNING signals.payload, signals.name INTO payload, signal_name;

  UPDATE {schema}.jobs
  SET meta = (meta - 'await') || jsonb_build_object('signals',
        coalesce(meta -> 'signals', '{}'::jsonb) || jsonb_build_object(call::text,
          jsonb_strip_nulls(jsonb_build_object('payload', encode(payload, 'base64'),
                                               'name', signal_name))))
  WHERE id = target_job;
END;
$$;

-- Read the latest value of one of `wait_names` on the job's workflow (the most recently
-- set, when several are), and record it on the job as call `call`; nothing is consumed.
CREATE OR REPLACE FUNCTION {schema}.read_workflow_signal(
  target_job bigint, call integer, wait_names text[],
  OUT payload bytea, OUT signal_name text, OUT db_now timestamptz
)
LANGUAGE plpgsql AS $$
BEGIN
  db_now := clock_timestamp();
  SELECT s.payload, s.name INTO payload, signal_name
  FROM {schema}.jobs j JOIN {schema}.workflow_signals s ON s.workflow_id = j.workflow_id
  WHERE j.id = target_job AND s.name = ANY(wait_names)
  ORDER BY s.set_at DESC, s.name LIMIT 1;
  IF payload IS NULL THEN
    RETURN;
  END IF;
  UPDATE {schema}.jobs
  SET meta = (meta - 'await') || jsonb_build_object('signals',
        coalesce(meta -> 'signals', '{}'::jsonb) || jsonb_build_object(call::text,
          jsonb_build_object('payload', encode(payload, 'base64'), 'name', signal_name,
                             'scope', 'workflow')))
  WHERE id = target_job;
END;
$$;

-- The workflows a broadcast to `wf` reaches: itself and, with `propagate`, its
-- sub-workflows (always) and its parent (unless it was added with propagate_to_parent =
-- false), from each of those onwards. Breadth first with the set already reached, so a
-- cycle in the data cannot loop.
CREATE OR REPLACE FUNCTION {schema}.workflows_reached(wf bigint, propagate boolean) RETURNS bigint[]
LANGUAGE plpgsql STABLE AS $$
DECLARE
  reached bigint[] := ARRAY[wf];
  frontier bigint[] := ARRAY[wf];
BEGIN
  IF NOT EXISTS (SELECT 1 FROM {schema}.workflows WHERE id = wf) THEN
    RETURN '{}';
  END IF;
  WHILE propagate LOOP
    SELECT array_agg(DISTINCT n.id) INTO frontier FROM (
      SELECT c.id FROM {schema}.workflows c WHERE c.parent_id = ANY(frontier)
      UNION
      SELECT w.parent_id FROM {schema}.workflows w
      WHERE w.id = ANY(frontier) AND w.parent_id IS NOT NULL AND w.propagate_to_parent
    ) n
    WHERE NOT n.id = ANY(reached);
    EXIT WHEN frontier IS NULL;
    reached := reached || frontier;
  END LOOP;
  RETURN reached;
END;
$$;

-- Set a workflow signal: the latest value wins, on every workflow reached. The reached
-- workflows' unfinished jobs are locked first (as signal_jobs locks its jobs), then the
-- value is set, then, in a later statement, the steps snoozed on this name are woken: a
-- step going to sleep at the same time either sees the value (snooze_jobs) or is woken.
-- Returns the workflows reached.
CREATE OR REPLACE FUNCTION {schema}.broadcast_workflow_signal(
  wf bigint, signal_name text, signal_payload bytea, signal_source text, propagate boolean
) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
  reached bigint[] := {schema}.workflows_reached(wf, propagate);
BEGIN
  IF cardinality(reached) = 0 THEN
    RETURN reached;
  END IF;

  PERFORM 1 FROM {schema}.jobs
  WHERE workflow_id = ANY(reached) AND state NOT IN ('completed', 'cancelled', 'discarded')
  ORDER BY id
  FOR UPDATE;

  INSERT INTO {schema}.workflow_signals AS s (workflow_id, name, payload, source, origin)
  SELECT unnest(reached), signal_name, signal_payload, signal_source, wf
  ON CONFLICT (workflow_id, name) DO UPDATE
  SET payload = excluded.payload, source = excluded.source, origin = excluded.origin,
      set_at = now();

  UPDATE {schema}.jobs SET state = 'available', scheduled_at = now()
  WHERE workflow_id = ANY(reached) AND state IN ('scheduled', 'suspended')
    AND meta -> 'await' ->> 'scope' = 'workflow'
    AND coalesce(meta -> 'await' -> 'names' ? signal_name, false);

  -- Steps waiting in place are executing (nothing in the row says they wait): every
  -- executing step of these workflows is told, and those that wait look again.
  PERFORM {schema}.notify_signalled(ARRAY(
    SELECT id FROM {schema}.jobs
    WHERE workflow_id = ANY(reached) AND state = 'executing'
    ORDER BY id));
  RETURN reached;
END;
$$;

-- Waits entered for a signal, now with names and a scope (see 006 for the rest).
CREATE OR REPLACE FUNCTION {schema}.snooze_named_jobs(
  job_ids bigint[], calls integer[], wait_keys text[], wait_seconds double precision[],
  wait_names text[], scopes text[]
)
RETURNS TABLE (job_id bigint, available boolean)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('{schema}.key:' || k.key))
  FROM (SELECT DISTINCT key FROM unnest(wait_keys) AS u(key) WHERE key IS NOT NULL
        ORDER BY key) k;

  PERFORM 1 FROM {schema}.jobs
  WHERE id = ANY(job_ids) AND state = 'executing'
  ORDER BY id
  FOR UPDATE;

  RETURN QUERY
  WITH snoozes AS (
    SELECT s.id, s.call, s.key, s.seconds, s.names::text[] AS names, s.scope
    FROM unnest(job_ids, calls, wait_keys, wait_seconds, wait_names, scopes)
      AS s(id, call, key, seconds, names, scope)
  ), current AS (
    SELECT s.*, j.meta -> 'await' AS previous,
           CASE WHEN s.scope = 'workflow' THEN EXISTS (
                  SELECT 1 FROM {schema}.workflow_signals w
                  WHERE w.workflow_id = j.workflow_id AND w.name = ANY(s.names))
           ELSE EXISTS (
                  SELECT 1 FROM {schema}.signals g
                  WHERE g.job_id = s.id AND g.consumed_at IS NULL
                    AND (CASE WHEN s.names IS NULL THEN g.name IS NULL
                              ELSE g.name = ANY(s.names) END))
                OR (s.key IS NOT NULL AND EXISTS (
                  SELECT 1 FROM {schema}.signals g
                  WHERE g.key = s.key AND g.job_id IS NULL AND g.consumed_at IS NULL
                    AND (g.expires_at IS NULL OR g.expires_at > now())))
           END AS signalled
    FROM snoozes s JOIN {schema}.jobs j ON j.id = s.id
    WHERE j.state = 'executing' AND j.id = ANY(job_ids)
  ), decided AS (
    SELECT c.*,
           CASE WHEN (c.previous ->> 'call')::integer = c.call AND c.previous ? 'deadline'
                THEN (c.previous ->> 'deadline')::timestamptz
                WHEN c.seconds IS NOT NULL THEN now() + make_interval(secs => c.seconds)
           END AS deadline
    FROM current c
  )
  UPDATE {schema}.jobs j
  SET state = CASE WHEN d.signalled THEN 'available'
                   WHEN d.deadline IS NULL THEN 'suspended'
                   ELSE 'scheduled' END::{schema}.job_state,
      scheduled_at = CASE WHEN d.signalled THEN now() ELSE coalesce(d.deadline, now()) END,
      attempt = greatest(j.attempt - 1, 0),
      meta = j.meta || jsonb_build_object('await', jsonb_strip_nulls(jsonb_build_object(
               'call', d.call, 'key', d.key, 'deadline', d.deadline,
               'names', to_jsonb(d.names), 'scope', d.scope,
               'snoozed_at', coalesce(d.previous -> 'snoozed_at', to_jsonb(now())))))
  FROM decided d
  WHERE j.id = d.id AND j.id = ANY(job_ids)
  RETURNING j.id, d.signalled;
END;
$$;


-- snooze_jobs() of 006 is replaced by snooze_named_jobs() before any release called it.
-- (snooze_for_signal() of 002 stays for one release: nodes of the previous version still
-- call it during a rolling upgrade.)
DROP FUNCTION IF EXISTS {schema}.snooze_jobs(bigint[], integer[], text[], double precision[]);
