-- Overview: per source, deliveries by outcome and refusals by reason, in the last hour and
-- the last day (delivery_counts of migration 007: at most a day of minutes per source).
SELECT source, kind, name,
       coalesce(sum(count) FILTER (WHERE minute >= now() - interval '1 hour'), 0) AS last_hour,
       sum(count) AS last_day
FROM {schema}.delivery_counts
WHERE minute >= now() - interval '1 day'
GROUP BY source, kind, name
ORDER BY source, kind, name
