-- The columns of the bookkeeping table: none when it does not exist yet; no `track` when
-- it was made before migrations had tracks.
SELECT column_name::text AS name FROM information_schema.columns
WHERE table_schema = '{schema}' AND table_name = 'migrations'
