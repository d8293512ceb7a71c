-- Event retention: the oldest events past their source's retention go, a batch at a time,
-- by one receiver process at a time (the others find the lock taken and skip the pass).
-- The first condition is the index range (events_received_idx): the shortest retention;
-- the second keeps a source's events for its own, longer retention.
CREATE OR REPLACE FUNCTION {schema}.prune_events(
  sources text[], seconds double precision[], default_seconds double precision,
  batch integer
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  deleted integer;
  shortest double precision := least(default_seconds, (SELECT min(s) FROM unnest(seconds) s));
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('{schema}.prune_events')) THEN
    RETURN -1;
  END IF;
  WITH doomed AS (
    SELECT e.id FROM {schema}.events e
    LEFT JOIN unnest(sources, seconds) AS r(source, seconds) ON r.source = e.source
    WHERE e.received_at < now() - make_interval(secs => shortest)
      AND e.received_at < now() - make_interval(secs => coalesce(r.seconds, default_seconds))
    ORDER BY e.received_at
    LIMIT batch
  )
  DELETE FROM {schema}.events e USING doomed d WHERE e.id = d.id;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN deleted;
END;
$$;
