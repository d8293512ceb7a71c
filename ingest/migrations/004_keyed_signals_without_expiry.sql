-- A keyed signal kept without `keep_for` has no expiry (expires_at NULL), where it was
-- stored with one ten years out.
CREATE OR REPLACE FUNCTION {schema}.deliver_event_signals(event bigint, deliveries jsonb)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  delivery jsonb;
  reached bigint[];
  results jsonb := '[]';
BEGIN
  FOR delivery IN SELECT value FROM jsonb_array_elements(coalesce(deliveries, '[]')) LOOP
    IF delivery ? 'key' THEN
      reached := {schema}.signal_key(
        delivery ->> 'key', decode(delivery ->> 'payload', 'base64'), 'event:' || event,
        make_interval(secs => (delivery ->> 'keep_for')::double precision));
    ELSIF delivery ? 'workflow' THEN
      reached := {schema}.signal_jobs(
        {schema}.workflow_step_ids(
          CASE WHEN delivery ->> 'workflow' ~ '^[0-9]+$'
               THEN (delivery ->> 'workflow')::bigint END,
          ARRAY(SELECT jsonb_array_elements_text(delivery -> 'steps'))),
        decode(delivery ->> 'payload', 'base64'), 'event:' || event);
    ELSE
      reached := {schema}.signal_jobs(
        ARRAY(SELECT jsonb_array_elements_text(delivery -> 'jobs')::bigint),
        decode(delivery ->> 'payload', 'base64'), 'event:' || event);
    END IF;
    results := results || jsonb_build_array(
      (delivery - 'payload') || jsonb_build_object('reached', to_jsonb(reached)));
  END LOOP;
  RETURN results;
END;
$$;
