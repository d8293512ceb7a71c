-- What the operator console reads and sets that the events table cannot answer cheaply.

-- Deliveries per minute, source and outcome, and refusals per reason: duplicates and
-- refusals store no event, and counting a day of events would be a scan. Each receiver
-- process adds its counts every few seconds (ingest/delivery_counts.py); kind is
-- 'outcome' (routed, unrouted, no_target, duplicate, payload_error, handshake) or
-- 'rejected' (the refusal's reason: bad_signature, too_large, paused, ...).
CREATE TABLE IF NOT EXISTS {schema}.delivery_counts (
  minute  timestamptz NOT NULL,
  source  text NOT NULL,
  kind    text NOT NULL,
  name    text NOT NULL,
  count   bigint NOT NULL,
  PRIMARY KEY (minute, source, kind, name)
);

-- Add one flush of counts: parallel arrays, one element per (minute, source, kind, name).
CREATE OR REPLACE FUNCTION {schema}.add_delivery_counts(
  minutes timestamptz[], sources text[], kinds text[], names text[], counts bigint[]
) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO {schema}.delivery_counts AS d (minute, source, kind, name, count)
  SELECT * FROM unnest(minutes, sources, kinds, names, counts)
  ORDER BY 1, 2, 3, 4   -- one lock order for every process: no deadlock between flushes
  ON CONFLICT (minute, source, kind, name) DO UPDATE SET count = d.count + excluded.count
$$;

-- Sources an operator paused: every receiver process answers 503 with Retry-After and
-- stores nothing until it is resumed. NOTIFY tells every process at once.
CREATE TABLE IF NOT EXISTS {schema}.source_pauses (
  source     text PRIMARY KEY,
  paused_at  timestamptz NOT NULL DEFAULT now(),
  paused_by  text NOT NULL
);

-- The console's lists page through events newest first (by id). By source, and by the
-- outcomes that are not 'routed' (the rare ones an operator looks for), through these;
-- 'routed' alone is most events, so the primary key serves it.
CREATE INDEX IF NOT EXISTS events_source_id_idx ON {schema}.events (source, id);
CREATE INDEX IF NOT EXISTS events_unusual_outcome_idx ON {schema}.events (outcome, id)
  WHERE outcome <> 'routed';

-- Pause or resume a source, as `who`; every receiver process hears it on the sources
-- channel at once. Returns whether anything changed.
CREATE OR REPLACE FUNCTION {schema}.set_source_pause(source_name text, who text,
                                                     pause boolean)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  changed integer;
BEGIN
  IF pause THEN
    INSERT INTO {schema}.source_pauses (source, paused_by) VALUES (source_name, who)
    ON CONFLICT (source) DO NOTHING;
  ELSE
    DELETE FROM {schema}.source_pauses WHERE source = source_name;
  END IF;
  GET DIAGNOSTICS changed = ROW_COUNT;
  PERFORM pg_notify('{schema}_sources',
                    json_build_object('source', source_name, 'paused', pause)::text);
  RETURN changed > 0;
END;
$$;
