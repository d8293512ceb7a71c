-- The database's clock: every node schedules against the same one.
SELECT now()
