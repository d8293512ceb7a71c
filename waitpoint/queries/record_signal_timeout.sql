-- Record that call $2 of job $1 timed out, so re-runs raise SignalTimeout at the same call.
UPDATE {schema}.jobs
SET meta = (meta - 'await') || jsonb_build_object('signals',
      coalesce(meta -> 'signals', '{}'::jsonb)
      || jsonb_build_object($2::integer::text, jsonb_build_object('timeout', true)))
WHERE id = $1
