-- Before migrations had tracks, one list numbered them all: 1 jobs, 2 signals, 3 events,
-- 4 workflows (which also taught the inbox to deliver to workflow steps), 5 the inbox's
-- index lookup. This is where each went; the schema they built is the same.
SELECT coalesce(moved.track, 'waitpoint') AS track,
       coalesce(moved.version, old.version) AS version,
       coalesce(moved.name, old.name) AS name, old.applied_at
FROM {schema}.migrations old
LEFT JOIN (VALUES (3, 'ingest', 1, 'events'),
                  (4, 'waitpoint', 3, 'workflows'),
                  (4, 'ingest', 2, 'workflow_deliveries'),
                  (5, 'ingest', 3, 'ingest_index_lookup'))
  AS moved(old_version, track, version, name) ON moved.old_version = old.version
