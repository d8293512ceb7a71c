-- ingest_events() looked up the jobs of a batch with `id IN (SELECT job FROM targets)`.
-- The planner estimates jsonb_array_elements at 100 rows a level, so it expected 10,000
-- targets and chose a sequential scan of all jobs with a hash join: a batch of one event
-- cost ~9 ms with 30,000 waiting jobs, growing with the table. `id = ANY(ARRAY(...))` is
-- an index lookup whatever the estimate. The function is otherwise unchanged.

CREATE OR REPLACE FUNCTION {schema}.ingest_events(batch jsonb)
RETURNS TABLE (item_index integer, event_id bigint, is_duplicate boolean, signalled jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  fresh jsonb;
  job_results jsonb;
  other record;
  other_results jsonb := '{}';
BEGIN
  -- 1. New events: the first copy of each delivery id not stored before.
  WITH items AS (
    SELECT ordinality::integer AS ordinal, value AS item
    FROM jsonb_array_elements(batch) WITH ORDINALITY
  ), firsts AS (
    SELECT DISTINCT ON (item ->> 'source', item ->> 'delivery_id') ordinal, item
    FROM items ORDER BY item ->> 'source', item ->> 'delivery_id', ordinal
  ), inserted AS (
    INSERT INTO {schema}.events AS e (source, delivery_id, method, path, query, headers, body,
                                      outcome, errors)
    SELECT item ->> 'source', item ->> 'delivery_id', item ->> 'method', item ->> 'path',
           item -> 'query', item -> 'headers', decode(item ->> 'body', 'base64'),
           item ->> 'outcome', coalesce(item -> 'errors', '[]')
    FROM firsts ORDER BY ordinal
    ON CONFLICT (source, delivery_id) DO NOTHING
    RETURNING e.id, e.source, e.delivery_id
  )
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'ordinal', f.ordinal, 'event', i.id,
           'deliveries', coalesce(f.item -> 'deliveries', '[]'))), '[]')
  INTO fresh
  FROM inserted i JOIN firsts f
    ON f.item ->> 'source' = i.source AND f.item ->> 'delivery_id' = i.delivery_id;

  -- 2. Job targets of the new events: lock, store, wake, in one statement.
  WITH deliveries AS (
    SELECT (f ->> 'ordinal')::integer AS ordinal, (f ->> 'event')::bigint AS event,
           d.ordinality::integer AS position, d.value AS delivery
    FROM jsonb_array_elements(fresh) f,
         jsonb_array_elements(f -> 'deliveries') WITH ORDINALITY d
    WHERE d.value ? 'jobs'
  ), targets AS (
    SELECT deliveries.*, t.job::bigint AS job
    FROM deliveries, jsonb_array_elements_text(delivery -> 'jobs') AS t(job)
  ), locked AS (
    SELECT j.id, j.state, j.meta FROM {schema}.jobs j
    WHERE j.id = ANY(ARRAY(SELECT job FROM targets))
      AND j.state NOT IN ('completed', 'cancelled', 'discarded')
    ORDER BY j.id
    FOR UPDATE OF j
  ), stored AS (
    INSERT INTO {schema}.signals (job_id, payload, source)
    SELECT t.job, decode(t.delivery ->> 'payload', 'base64'), 'event:' || t.event
    FROM targets t JOIN locked l ON l.id = t.job
    ORDER BY t.ordinal, t.position
    RETURNING job_id
  ), woken AS (
    UPDATE {schema}.jobs j SET state = 'available', scheduled_at = now()
    FROM locked l
    WHERE j.id = l.id AND l.state IN ('scheduled', 'suspended') AND l.meta ? 'await'
    RETURNING j.id
  ), notified AS (
    SELECT {schema}.notify_signalled(ARRAY(SELECT id FROM locked ORDER BY id))
  ), per_delivery AS (
    SELECT d.event, d.position,
           (d.delivery - 'payload') || jsonb_build_object('reached', coalesce((
             SELECT jsonb_agg(t.job ORDER BY t.job) FROM targets t JOIN locked l ON l.id = t.job
             WHERE t.event = d.event AND t.position = d.position), '[]')) AS summary
    FROM deliveries d
  )
  SELECT coalesce(jsonb_object_agg(event || ':' || position, summary), '{}')
  INTO job_results
  FROM per_delivery, (SELECT count(*) FROM stored) s, (SELECT count(*) FROM woken) w,
       notified;

  -- 3. Keyed and workflow targets, one at a time (signal_key serialises on the key).
  FOR other IN
    SELECT (f ->> 'event')::bigint AS event, d.ordinality::integer AS position, d.value AS delivery
    FROM jsonb_array_elements(fresh) f,
         jsonb_array_elements(f -> 'deliveries') WITH ORDINALITY d
    WHERE NOT d.value ? 'jobs'
    ORDER BY (f ->> 'ordinal')::integer, d.ordinality
  LOOP
    other_results := other_results || jsonb_build_object(
      other.event || ':' || other.position,
      {schema}.deliver_event_signals(other.event, jsonb_build_array(other.delivery)) -> 0);
  END LOOP;

  -- 4. What each new event signalled, in delivery order.
  UPDATE {schema}.events e SET signals = s.signals
  FROM (
    SELECT (f ->> 'event')::bigint AS event,
           jsonb_agg(coalesce(job_results -> ((f ->> 'event') || ':' || d.ordinality),
                              other_results -> ((f ->> 'event') || ':' || d.ordinality))
                     ORDER BY d.ordinality) AS signals
    FROM jsonb_array_elements(fresh) f,
         jsonb_array_elements(f -> 'deliveries') WITH ORDINALITY d
    GROUP BY 1
  ) s
  WHERE e.id = s.event;

  RETURN QUERY
  WITH items AS (
    SELECT ordinality::integer AS ordinal, value ->> 'source' AS source,
           value ->> 'delivery_id' AS delivery_id
    FROM jsonb_array_elements(batch) WITH ORDINALITY
  )
  SELECT i.ordinal, e.id,
         NOT EXISTS (SELECT 1 FROM jsonb_array_elements(fresh) f
                     WHERE (f ->> 'ordinal')::integer = i.ordinal),
         e.signals
  FROM items i JOIN {schema}.events e
    ON e.source = i.source AND e.delivery_id = i.delivery_id
  ORDER BY i.ordinal;
END;
$$;
