-- The group commit takes typed arrays (binary on the wire: no JSON batch, no base64) and
-- writes each event row once.
--
-- ingest_events(jsonb) parsed a JSON batch with base64 bodies and payloads, inserted the
-- events, then rewrote every new event row to record what its signals reached: two heap
-- tuples and their index entries per event. Here the jobs are locked first, so what a job
-- delivery reaches is known before the event row is written; only the rare keyed or
-- workflow delivery (which serialises on its key, one at a time) updates its event after.
--
-- Lock order: every batch locks its target jobs (in id order) before it inserts any event,
-- and waits on another batch's event row only while inserting. A batch never waits for a
-- job while holding an event row, so two batches cannot deadlock through jobs and events.
-- A duplicate's jobs are locked too (it is not known to be one yet); that only orders it.

-- Deliver one keyed or workflow delivery (as stored on its event); returns what it reached:
-- jobs, or for a broadcast of a workflow's named signal, the workflows.
CREATE OR REPLACE FUNCTION {schema}.deliver_other_signal(
  target jsonb, payload bytea, signal_name text, source text
) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
  workflow bigint := CASE WHEN target ->> 'workflow' ~ '^[0-9]{1,18}$'
                          THEN (target ->> 'workflow')::bigint END;
BEGIN
  IF target ? 'key' THEN
    RETURN {schema}.signal_key(target ->> 'key', payload, source,
                               make_interval(secs => (target ->> 'keep_for')::double precision));
  ELSIF target ? 'steps' THEN
    RETURN {schema}.signal_jobs(
      {schema}.workflow_step_ids(workflow,
                                 ARRAY(SELECT jsonb_array_elements_text(target -> 'steps'))),
      payload, source, signal_name);
  ELSIF workflow IS NULL THEN
    RETURN '{}';
  END IF;
  RETURN {schema}.broadcast_workflow_signal(workflow, target ->> 'name', payload, source,
                                            coalesce((target ->> 'propagate')::boolean, true));
END;
$$;

-- Replayed deliveries go through the same function (replay_event() calls this one).
CREATE OR REPLACE FUNCTION {schema}.deliver_event_signals(event bigint, deliveries jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  delivery jsonb;
  reached bigint[];
  results jsonb := '[]';
BEGIN
  FOR delivery IN SELECT value FROM jsonb_array_elements(coalesce(deliveries, '[]')) LOOP
    IF delivery ? 'jobs' THEN
      reached := {schema}.signal_jobs(
        ARRAY(SELECT jsonb_array_elements_text(delivery -> 'jobs')::bigint),
        decode(delivery ->> 'payload', 'base64'), 'event:' || event, delivery ->> 'name');
    ELSE
      reached := {schema}.deliver_other_signal(
        delivery - 'payload', decode(delivery ->> 'payload', 'base64'), delivery ->> 'name',
        'event:' || event);
    END IF;
    results := results || jsonb_build_array(
      (delivery - 'payload') || jsonb_build_object('reached', to_jsonb(reached)));
  END LOOP;
  RETURN results;
END;
$$;

CREATE OR REPLACE FUNCTION {schema}.ingest_batch(
  sources text[], delivery_ids text[], methods text[], paths text[], queries text[],
  headers text[], bodies bytea[], outcomes text[], errors text[],
  -- One element per delivery (a signal an event sends), in delivery order: its event's
  -- position in the batch (from 1), its route, its target as stored on the event
  -- ({"jobs": [...]}, {"key": k, "keep_for": s}, {"workflow": w, "steps": [...]} or a
  -- broadcast {"workflow": w, "name": n, "propagate": p}), its erlpack payload and the
  -- name of a job signal (NULL: unnamed).
  delivery_items integer[], delivery_routes text[], delivery_targets text[],
  delivery_payloads bytea[], delivery_names text[],
  -- One element per job a job delivery names: the delivery (from 1) and the job id.
  target_deliveries integer[], target_jobs bigint[]
)
RETURNS TABLE (item_index integer, event_id bigint, is_duplicate boolean, signalled jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  locked bigint[];
  fresh_items integer[];
  fresh_events bigint[];
  reached bigint[];
  other record;
BEGIN
  -- 1. Lock the jobs that job deliveries name; terminal jobs are not reached.
  SELECT coalesce(array_agg(l.id ORDER BY l.id), '{}') INTO locked FROM (
    SELECT j.id FROM {schema}.jobs j
    WHERE j.id = ANY(ARRAY(SELECT DISTINCT unnest(target_jobs)))
      AND j.state NOT IN ('completed', 'cancelled', 'discarded')
    ORDER BY j.id
    FOR UPDATE OF j
  ) l;

  -- 2. Store the first copy of each delivery id not stored before, with what its job
  --    deliveries reach (a keyed or workflow delivery's `reached` is filled in by step 4).
  WITH items AS (
    SELECT * FROM unnest(sources, delivery_ids, methods, paths, queries, headers, bodies,
                         outcomes, errors)
      WITH ORDINALITY AS i(source, delivery_id, method, path, query, headers, body,
                           outcome, errors, item)
  ), firsts AS (
    SELECT DISTINCT ON (source, delivery_id) * FROM items
    ORDER BY source, delivery_id, item
  ), reach AS (
    SELECT t.delivery, jsonb_agg(t.job ORDER BY t.job) AS jobs
    FROM (SELECT DISTINCT delivery, job FROM unnest(target_deliveries, target_jobs)
            AS t(delivery, job)) t
    JOIN unnest(locked) AS l(id) ON l.id = t.job
    GROUP BY t.delivery
  ), summaries AS (
    SELECT d.item, jsonb_agg(
             d.target::jsonb || jsonb_build_object('route', d.route,
                                                   'reached', coalesce(r.jobs, '[]'))
             ORDER BY d.delivery) AS signals
    FROM unnest(delivery_items, delivery_routes, delivery_targets)
      WITH ORDINALITY AS d(item, route, target, delivery)
    LEFT JOIN reach r ON r.delivery = d.delivery
    GROUP BY d.item
  ), inserted AS (
    INSERT INTO {schema}.events AS e (source, delivery_id, method, path, query, headers,
                                      body, outcome, errors, signals)
    SELECT f.source, f.delivery_id, f.method, f.path, f.query::jsonb, f.headers::jsonb,
           f.body, f.outcome, f.errors::jsonb, coalesce(s.signals, '[]')
    FROM firsts f LEFT JOIN summaries s ON s.item = f.item
    ORDER BY f.item
    ON CONFLICT (source, delivery_id) DO NOTHING
    RETURNING e.id, e.source, e.delivery_id
  )
  SELECT coalesce(array_agg(f.item::integer ORDER BY f.item), '{}'),
         coalesce(array_agg(i.id ORDER BY f.item), '{}')
  INTO fresh_items, fresh_events
  FROM inserted i JOIN firsts f ON f.source = i.source AND f.delivery_id = i.delivery_id;

  -- 3. The new events' job deliveries: store each signal and wake its job, in one statement.
  WITH targets AS (
    SELECT t.job, d.payload, d.name, 'event:' || f.event AS source, t.delivery, t.n
    FROM unnest(target_deliveries, target_jobs) WITH ORDINALITY AS t(delivery, job, n)
    JOIN unnest(delivery_items, delivery_payloads, delivery_names)
      WITH ORDINALITY AS d(item, payload, name, delivery)
      ON d.delivery = t.delivery
    JOIN unnest(fresh_items, fresh_events) AS f(item, event) ON f.item = d.item
    JOIN unnest(locked) AS l(id) ON l.id = t.job
  ), stored AS (
    INSERT INTO {schema}.signals (job_id, payload, source, name)
    SELECT job, payload, source, name FROM targets ORDER BY delivery, n
    RETURNING job_id
  ), woken AS (
    -- A job snoozed on a name is woken only by that name (awaits_job_signal, engine 007).
    UPDATE {schema}.jobs j SET state = 'available', scheduled_at = now()
    WHERE j.id = ANY(ARRAY(SELECT DISTINCT job FROM targets))
      AND j.state IN ('scheduled', 'suspended')
      AND EXISTS (SELECT 1 FROM targets t WHERE t.job = j.id
                  AND {schema}.awaits_job_signal(j.meta -> 'await', t.name))
    RETURNING j.id
  )
  SELECT coalesce(array_agg(DISTINCT job_id ORDER BY job_id), '{}') INTO reached
  FROM stored, (SELECT count(*) FROM woken) w;
  PERFORM {schema}.notify_signalled(reached);

  -- 4. The new events' keyed and workflow deliveries, one at a time (signal_key
  --    serialises on the key); each records what it reached on its event.
  FOR other IN
    SELECT f.event, d.target::jsonb AS target, d.payload, d.name,
           (row_number() OVER (PARTITION BY d.item ORDER BY d.delivery) - 1)::integer
             AS position
    FROM unnest(delivery_items, delivery_targets, delivery_payloads, delivery_names)
      WITH ORDINALITY AS d(item, target, payload, name, delivery)
    JOIN unnest(fresh_items, fresh_events) AS f(item, event) ON f.item = d.item
    ORDER BY d.delivery
  LOOP
    CONTINUE WHEN other.target ? 'jobs';
    reached := {schema}.deliver_other_signal(other.target, other.payload, other.name,
                                             'event:' || other.event);
    UPDATE {schema}.events
    SET signals = jsonb_set(signals, ARRAY[other.position::text, 'reached'], to_jsonb(reached))
    WHERE id = other.event;
  END LOOP;

  -- 5. One row per item: new events, and the stored copy a duplicate repeats.
  RETURN QUERY
  SELECT i.item::integer, e.id, NOT (i.item::integer = ANY(fresh_items)), e.signals
  FROM unnest(sources, delivery_ids) WITH ORDINALITY AS i(source, delivery_id, item)
  JOIN {schema}.events e ON e.source = i.source AND e.delivery_id = i.delivery_id
  ORDER BY i.item;
END;
$$;

-- ingest_events(jsonb) stays for one release, so receivers of the previous version keep
-- committing during a rolling upgrade.
