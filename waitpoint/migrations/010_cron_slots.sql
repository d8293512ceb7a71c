-- Periodic jobs: one row per (worker, slot) inserted with its job, so a slot can never
-- be inserted twice, whichever node leads (waitpoint/_cron.py).
CREATE TABLE IF NOT EXISTS {schema}.cron_slots (
  worker       text NOT NULL,
  slot         timestamptz NOT NULL,
  job_id       bigint,
  inserted_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (worker, slot)
);
