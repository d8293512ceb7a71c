-- The receiver stops writing the engine's tables: what a delivery reaches and how a job
-- wakes is the engine's rule, in its signal_job_batch() and signal_batch() (engine
-- migration 016). ingest_batch() and deliver_event_signals() (replay) hand their
-- deliveries to them as typed arrays, and write only the receiver's own tables.
--
-- Lock order, unchanged: a batch takes its target jobs' locks (lock_signal_targets(), in
-- id order) before it inserts any event, and waits on another batch's event row only while
-- inserting. It never waits for a job while holding an event row, so two batches cannot
-- deadlock through jobs and events; the engine is handed the locked jobs.
--
-- Nothing of a released version needs ingest_events(jsonb) (none was released), nor the
-- per-delivery helper the typed batch replaces.
--
-- The replay guard: where a source's delivery id is not covered by its signature (GitHub,
-- Shopify, Twilio, GitLab, Linear), or its scheme signs no timestamp (a captured request
-- stays valid for ever), or its signature does not cover the body (Mailgun: remember its
-- tokens), a verified request carries a replay key. A key is claimed in the same
-- transaction as its event and remembered for its window (longer than the events are
-- kept): the same request sent again, whatever its delivery id, is a duplicate.

CREATE TABLE IF NOT EXISTS {schema}.replay_guard (
  source      text NOT NULL,
  key         bytea NOT NULL,          -- SHA-256 of what a replay repeats
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (source, key)
);
CREATE INDEX IF NOT EXISTS replay_guard_expires_idx ON {schema}.replay_guard (expires_at);

DROP FUNCTION IF EXISTS {schema}.ingest_events(jsonb);

-- The deliveries of stored events (their targets as the events table spells them), as the
-- typed arrays signal_batch() takes; `events` gives each delivery's event (its source is
-- "event:<id>"). Returns per delivery what it reached, in the order given.
CREATE OR REPLACE FUNCTION {schema}.signal_event_deliveries(
  events bigint[], targets jsonb[], payloads bytea[], names text[]
) RETURNS TABLE (delivery integer, reached bigint[])
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
  WITH d AS (
    SELECT d.n::integer AS n, d.target, d.event
    FROM unnest(events, targets) WITH ORDINALITY AS d(event, target, n)
  )
  SELECT b.delivery, b.reached FROM {schema}.signal_batch(
    payloads,
    names,
    ARRAY(SELECT 'event:' || d.event FROM d ORDER BY d.n),
    ARRAY(SELECT d.target ->> 'key' FROM d ORDER BY d.n),
    ARRAY(SELECT (d.target ->> 'keep_for')::double precision FROM d ORDER BY d.n),
    -- A workflow id that is not a number reaches nothing (as a job delivery to no jobs).
    ARRAY(SELECT CASE WHEN d.target ->> 'workflow' ~ '^[0-9]{1,18}$'
                      THEN (d.target ->> 'workflow')::bigint END FROM d ORDER BY d.n),
    ARRAY(SELECT (d.target ->> 'propagate')::boolean FROM d ORDER BY d.n),
    ARRAY(SELECT d.n FROM d, jsonb_array_elements_text(d.target -> 'jobs') WITH ORDINALITY
            AS j(job, k) WHERE d.target ? 'jobs' ORDER BY d.n, j.k),
    ARRAY(SELECT j.job::bigint FROM d, jsonb_array_elements_text(d.target -> 'jobs')
            WITH ORDINALITY AS j(job, k) WHERE d.target ? 'jobs' ORDER BY d.n, j.k),
    ARRAY(SELECT d.n FROM d, jsonb_array_elements_text(d.target -> 'steps') WITH ORDINALITY
            AS s(step, k) WHERE d.target ? 'steps' ORDER BY d.n, s.k),
    ARRAY(SELECT s.step FROM d, jsonb_array_elements_text(d.target -> 'steps')
            WITH ORDINALITY AS s(step, k) WHERE d.target ? 'steps' ORDER BY d.n, s.k)
  ) AS b;
END;
$$;

-- Replayed deliveries (replay_event() calls this one): the payloads travel base64 in the
-- stored JSON.
CREATE OR REPLACE FUNCTION {schema}.deliver_event_signals(event bigint, deliveries jsonb)
RETURNS jsonb
LANGUAGE sql AS $$
  WITH d AS (
    SELECT value AS delivery, n FROM jsonb_array_elements(coalesce(deliveries, '[]'))
      WITH ORDINALITY AS d(value, n)
  )
  SELECT coalesce(jsonb_agg(((deliveries -> (r.delivery - 1)) - 'payload')
                            || jsonb_build_object('reached', to_jsonb(r.reached))
                            ORDER BY r.delivery), '[]')
  FROM {schema}.signal_event_deliveries(
    ARRAY(SELECT event FROM d ORDER BY n),
    ARRAY(SELECT delivery - 'payload' FROM d ORDER BY n),
    ARRAY(SELECT decode(delivery ->> 'payload', 'base64') FROM d ORDER BY n),
    ARRAY(SELECT delivery ->> 'name' FROM d ORDER BY n)) AS r
$$;

DROP FUNCTION IF EXISTS {schema}.deliver_other_signal(jsonb, bytea, text, text);
DROP FUNCTION IF EXISTS {schema}.ingest_batch(text[], text[], text[], text[], text[], text[],
  bytea[], text[], text[], integer[], text[], text[], bytea[], text[], integer[], bigint[]);

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
  target_deliveries integer[], target_jobs bigint[],
  -- One element per event: its replay key (NULL: none) and for how many seconds a replay
  -- of it is refused.
  replay_keys bytea[], replay_seconds double precision[]
)
RETURNS TABLE (item_index integer, event_id bigint, is_duplicate boolean, signalled jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  locked bigint[];
  replayed integer[] := '{}';
  fresh_items integer[];
  fresh_events bigint[];
  delivery_sources text[];
  has_others boolean;
  pair_deliveries integer[];
  pair_jobs bigint[];
  other_events bigint[];
  other_targets jsonb[];
  other_payloads bytea[];
  other_names text[];
  other_positions integer[];
  other record;
BEGIN
  -- 1. Take the locks of the jobs that job deliveries name, in the engine's order: the
  --    live ones are what those deliveries reach.
  locked := {schema}.lock_signal_targets(target_jobs);

  -- 2a. Claim the replay keys (in key order, so that two batches cannot deadlock on them):
  --     an item whose key is held and not expired, or repeats one earlier in the batch,
  --     is a replay, stored as nothing.
  IF replay_keys IS NOT NULL THEN
    WITH keyed AS (
      SELECT k.source, k.key, k.seconds, k.item::integer AS item
      FROM unnest(sources, replay_keys, replay_seconds) WITH ORDINALITY AS k(source, key, seconds, item)
      WHERE k.key IS NOT NULL
    ), firsts AS (
      SELECT DISTINCT ON (source, key) * FROM keyed ORDER BY source, key, item
    ), claimed AS (
      INSERT INTO {schema}.replay_guard AS g (source, key, expires_at)
      SELECT source, key, now() + make_interval(secs => seconds) FROM firsts
      ORDER BY source, key
      ON CONFLICT (source, key) DO UPDATE SET expires_at = excluded.expires_at
      WHERE g.expires_at <= now()
      RETURNING g.source, g.key
    )
    SELECT coalesce(array_agg(k.item), '{}') INTO replayed
    FROM keyed k
    WHERE NOT EXISTS (SELECT 1 FROM firsts f JOIN claimed c
                        ON c.source = f.source AND c.key = f.key
                      WHERE f.item = k.item);
  END IF;

  -- 2. Store the first copy of each delivery id not stored before, with what its job
  --    deliveries reach (a keyed or workflow delivery's `reached` is filled in by step 3).
  WITH items AS (
    SELECT * FROM unnest(sources, delivery_ids, methods, paths, queries, headers, bodies,
                         outcomes, errors)
      WITH ORDINALITY AS i(source, delivery_id, method, path, query, headers, body,
                           outcome, errors, item)
  ), firsts AS (
    SELECT DISTINCT ON (source, delivery_id) * FROM items
    WHERE NOT item::integer = ANY(replayed)
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
  ), fresh AS (
    SELECT f.item::integer AS item, i.id AS event
    FROM inserted i JOIN firsts f ON f.source = i.source AND f.delivery_id = i.delivery_id
  )
  -- What step 3 hands the engine, in the same statement: every delivery in its own
  -- position, where a duplicate's (no source, no pairs) and a keyed or workflow one (no
  -- pairs) reach nothing.
  SELECT coalesce((SELECT array_agg(item ORDER BY item) FROM fresh), '{}'),
         coalesce((SELECT array_agg(event ORDER BY item) FROM fresh), '{}'),
         ARRAY(SELECT 'event:' || fr.event
               FROM unnest(delivery_items) WITH ORDINALITY AS d(item, delivery)
               LEFT JOIN fresh fr ON fr.item = d.item
               ORDER BY d.delivery),
         ARRAY(SELECT t.delivery
               FROM unnest(target_deliveries) WITH ORDINALITY AS t(delivery, k)
               JOIN unnest(delivery_items) WITH ORDINALITY AS d(item, delivery)
                 ON d.delivery = t.delivery
               JOIN fresh fr ON fr.item = d.item
               ORDER BY t.k),
         ARRAY(SELECT t.job
               FROM unnest(target_deliveries, target_jobs) WITH ORDINALITY AS t(delivery, job, k)
               JOIN unnest(delivery_items) WITH ORDINALITY AS d(item, delivery)
                 ON d.delivery = t.delivery
               JOIN fresh fr ON fr.item = d.item
               ORDER BY t.k),
         -- A cheap look first: a job delivery's target is spelled {"jobs": ...}.
         EXISTS (SELECT 1 FROM unnest(delivery_targets) AS t(target)
                 WHERE left(t.target, 8) <> '{"jobs":')
  INTO fresh_items, fresh_events, delivery_sources, pair_deliveries, pair_jobs, has_others;

  -- 3. The new events' job deliveries go to the engine's signal_job_batch() straight from
  --    the typed arrays (their reach is on the events already); the few keyed or workflow
  --    ones go through signal_event_deliveries() and record what they reached on their
  --    event (the one case that writes an event row twice). Each result is read whole, so
  --    each call runs whole.
  IF cardinality(pair_jobs) > 0 THEN
    PERFORM {schema}.signal_job_batch(delivery_payloads, delivery_names, delivery_sources,
                                      pair_deliveries, pair_jobs, locked);
  END IF;

  IF has_others THEN
    SELECT array_agg(f.event ORDER BY f.delivery), array_agg(f.target ORDER BY f.delivery),
           array_agg(f.payload ORDER BY f.delivery), array_agg(f.name ORDER BY f.delivery),
           array_agg(f.position ORDER BY f.delivery)
    INTO other_events, other_targets, other_payloads, other_names, other_positions
    FROM (
      SELECT e.event, d.target::jsonb AS target, d.payload, d.name, d.delivery,
             (row_number() OVER (PARTITION BY d.item ORDER BY d.delivery) - 1)::integer
               AS position
      FROM unnest(delivery_items, delivery_targets, delivery_payloads, delivery_names)
        WITH ORDINALITY AS d(item, target, payload, name, delivery)
      JOIN unnest(fresh_items, fresh_events) AS e(item, event) ON e.item = d.item
    ) f
    WHERE NOT f.target ? 'jobs';
  END IF;

  IF other_events IS NOT NULL THEN
    FOR other IN
      SELECT r.delivery, r.reached FROM {schema}.signal_event_deliveries(
        other_events, other_targets, other_payloads, other_names) AS r
      ORDER BY r.delivery
    LOOP
      UPDATE {schema}.events
      SET signals = jsonb_set(signals, ARRAY[other_positions[other.delivery]::text, 'reached'],
                              to_jsonb(other.reached))
      WHERE id = other_events[other.delivery];
    END LOOP;
  END IF;

  -- 4. One row per item: new events, the stored copy a duplicate repeats, and for a
  --    replay under a new delivery id, no event (NULL).
  RETURN QUERY
  SELECT i.item::integer, e.id, NOT (i.item::integer = ANY(fresh_items)),
         coalesce(e.signals, '[]')
  FROM unnest(sources, delivery_ids) WITH ORDINALITY AS i(source, delivery_id, item)
  LEFT JOIN {schema}.events e ON e.source = i.source AND e.delivery_id = i.delivery_id
  ORDER BY i.item;
END;
$$;
