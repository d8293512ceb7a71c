-- What each table of the schema holds (`waitpoint stats`): estimated rows (the planner's
-- count, kept by autovacuum: exact counts of a large table would be a scan), total size
-- with indexes and TOAST, and the time of its oldest row when it has a time column.
CREATE OR REPLACE FUNCTION {schema}.table_stats()
RETURNS TABLE (table_name text, estimated_rows bigint, total_bytes bigint, oldest timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  t record;
  time_column text;
  has_id boolean;
BEGIN
  FOR t IN
    SELECT c.oid, c.relname, greatest(c.reltuples, 0)::bigint AS estimate
    FROM pg_class c
    WHERE c.relnamespace = '{schema}'::regnamespace AND c.relkind IN ('r', 'p')
    ORDER BY c.relname
  LOOP
    table_name := t.relname;
    estimated_rows := t.estimate;
    total_bytes := pg_total_relation_size(t.oid);
    oldest := NULL;
    SELECT a.attname INTO time_column FROM pg_attribute a
    WHERE a.attrelid = t.oid AND NOT a.attisdropped
      AND a.attname = ANY(ARRAY['received_at', 'inserted_at', 'slot', 'set_at',
                                'started_at', 'elected_at', 'applied_at', 'updated_at'])
    ORDER BY array_position(ARRAY['received_at', 'inserted_at', 'slot', 'set_at',
                                  'started_at', 'elected_at', 'applied_at', 'updated_at'],
                            a.attname::text)
    LIMIT 1;
    SELECT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = t.oid
                   AND a.attname = 'id' AND NOT a.attisdropped) INTO has_id;
    IF time_column IS NOT NULL THEN
      IF has_id THEN  -- the primary key's first row: no scan of a large table
        EXECUTE format('SELECT %I FROM %s ORDER BY id LIMIT 1', time_column, t.oid::regclass)
          INTO oldest;
      ELSE
        EXECUTE format('SELECT min(%I) FROM %s', time_column, t.oid::regclass) INTO oldest;
      END IF;
    END IF;
    RETURN NEXT;
  END LOOP;
END;
$$;
