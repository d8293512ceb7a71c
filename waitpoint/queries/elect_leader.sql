-- Take or keep leadership of $1 for node $2 for $3 seconds; returns the current leader.
INSERT INTO {schema}.leaders AS l (name, node, expires_at)
VALUES ($1, $2, now() + make_interval(secs => $3))
ON CONFLICT (name) DO UPDATE
  SET node = excluded.node, expires_at = excluded.expires_at,
      elected_at = CASE WHEN l.node = excluded.node THEN l.elected_at ELSE now() END
  WHERE l.node = excluded.node OR l.expires_at < now()
RETURNING node
