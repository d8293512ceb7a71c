-- A keyed signal is bound only to a waiter that will consume it. Before, two signals for
-- key K arriving while one job waited on K were both bound to that job: it consumed one
-- and finished, and the other stayed bound to a finished job, so the next job awaiting K
-- never got it. A waiter that already holds an unconsumed signal for the key is passed
-- over now; when every waiter holds one, the signal is kept on the key for the next.
CREATE OR REPLACE FUNCTION {schema}.signal_key(
  signal_key text, signal_payload bytea, signal_source text, keep_for interval
) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
  reached bigint[];
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('{schema}.key:' || signal_key));

  SELECT coalesce(array_agg(id), '{}') INTO reached FROM (
    SELECT j.id FROM {schema}.jobs j
    WHERE j.meta -> 'await' ->> 'key' = signal_key
      AND j.state NOT IN ('completed', 'cancelled', 'discarded')
      AND NOT EXISTS (
        SELECT 1 FROM {schema}.signals s
        WHERE s.job_id = j.id AND s.key = signal_key AND s.consumed_at IS NULL)
    ORDER BY j.id
    FOR UPDATE OF j
  ) locked;

  IF coalesce(array_length(reached, 1), 0) = 0 THEN
    INSERT INTO {schema}.signals (key, payload, source, expires_at)
    VALUES (signal_key, signal_payload, signal_source, now() + keep_for);
    RETURN reached;
  END IF;

  INSERT INTO {schema}.signals (job_id, key, payload, source)
  SELECT unnest(reached), signal_key, signal_payload, signal_source;

  UPDATE {schema}.jobs j SET state = 'available', scheduled_at = now()
  FROM unnest(reached) AS r(id)
  WHERE j.id = r.id AND j.state IN ('scheduled', 'suspended') AND j.meta ? 'await';

  PERFORM {schema}.notify_signalled(reached);
  RETURN reached;
END;
$$;
