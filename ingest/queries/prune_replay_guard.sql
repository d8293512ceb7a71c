-- Forget up to $1 expired replay keys (replay_guard of migration 008); the number deleted.
WITH expired AS (
  SELECT source, key FROM {schema}.replay_guard WHERE expires_at <= now() LIMIT $1
), deleted AS (
  DELETE FROM {schema}.replay_guard g USING expired e
  WHERE g.source = e.source AND g.key = e.key AND g.expires_at <= now()
  RETURNING 1
)
SELECT count(*) FROM deleted
