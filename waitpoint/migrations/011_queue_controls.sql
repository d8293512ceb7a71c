-- Queue controls at run time: pause, resume and scale a queue on every node ('*') or on
-- one, kept here so that a node that restarts comes back as it was told, and announced on
-- NOTIFY <schema>_control so that running nodes apply it at once. A node's own row wins
-- over '*'; a command for every node clears what was set per node for that field.

CREATE TABLE IF NOT EXISTS {schema}.queue_controls (
  queue       text NOT NULL,
  node        text NOT NULL DEFAULT '*',
  paused      boolean,
  limit_      integer CHECK (limit_ IS NULL OR limit_ >= 1),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (queue, node)
);

-- What `waitpoint queues` shows, from each producer's heartbeat.
ALTER TABLE {schema}.producers
  ADD COLUMN IF NOT EXISTS paused boolean NOT NULL DEFAULT false,
  ADD COLUMN IF NOT EXISTS running integer NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION {schema}.control_queue(
  target_queue text, target_node text, set_paused boolean, set_limit integer
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {schema}.queue_controls AS c (queue, node, paused, limit_)
  VALUES (target_queue, coalesce(target_node, '*'), set_paused, set_limit)
  ON CONFLICT (queue, node) DO UPDATE
  SET paused = coalesce(excluded.paused, c.paused),
      limit_ = coalesce(excluded.limit_, c.limit_), updated_at = now();
  IF target_node IS NULL THEN
    UPDATE {schema}.queue_controls
    SET paused = CASE WHEN set_paused IS NULL THEN paused END,
        limit_ = CASE WHEN set_limit IS NULL THEN limit_ END, updated_at = now()
    WHERE queue = target_queue AND node <> '*';
  END IF;
  PERFORM pg_notify('{schema}_control', target_queue);
END;
$$;
