-- The bookkeeping of applied migrations: one row per (track, version). Each package that
-- owns tables (the engine: track 'waitpoint'; the receiver: 'ingest') numbers its own.
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.migrations (
  track      text NOT NULL DEFAULT 'waitpoint',
  version    integer NOT NULL,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (track, version)
);
