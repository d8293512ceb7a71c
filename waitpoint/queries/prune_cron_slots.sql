-- Old slots go, except each worker's latest (backfill starts from it).
DELETE FROM {schema}.cron_slots c
WHERE c.slot < now() - make_interval(secs => $1)
  AND c.slot < (SELECT max(l.slot) FROM {schema}.cron_slots l WHERE l.worker = c.worker)
