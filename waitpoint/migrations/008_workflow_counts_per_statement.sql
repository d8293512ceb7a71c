-- A workflow's state counts are kept per statement, not per row. The row trigger called
-- workflow_adjust() once per job, each updating the same workflows row: a statement that
-- moved 10,000 steps of one workflow (a broadcast waking them) wrote 10,000 versions of
-- that row, each found by walking the versions before it, and took 24 s. Now one
-- statement is one adjustment per (workflow, state).
--
-- Additions come before subtractions, so the counts never look finished in between (a
-- workflow with nothing active is marked finished by workflow_adjust).

CREATE OR REPLACE FUNCTION {schema}.workflow_count_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  moved record;
BEGIN
  FOR moved IN
    SELECT workflow_id, state, sum(n)::integer AS n FROM (
      SELECT workflow_id, state::text AS state, -1 AS n FROM old_rows
      WHERE workflow_id IS NOT NULL
      UNION ALL
      SELECT workflow_id, state::text, 1 FROM new_rows WHERE workflow_id IS NOT NULL
    ) x
    GROUP BY 1, 2 HAVING sum(n) <> 0
    ORDER BY sum(n) < 0, 1, 2
  LOOP
    IF moved.n > 0 THEN
      PERFORM {schema}.workflow_adjust(moved.workflow_id, NULL, moved.state, moved.n, false);
    ELSE
      PERFORM {schema}.workflow_adjust(moved.workflow_id, moved.state, NULL, -moved.n, false);
    END IF;
  END LOOP;
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS jobs_workflow_count_update ON {schema}.jobs;
DROP TRIGGER IF EXISTS jobs_workflow_count_updated ON {schema}.jobs;
CREATE TRIGGER jobs_workflow_count_updated AFTER UPDATE ON {schema}.jobs
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION {schema}.workflow_count_updated();
