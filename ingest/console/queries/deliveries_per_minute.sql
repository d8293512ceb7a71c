-- Overview chart: accepted and refused requests per minute over the last $1 minutes.
SELECT minute, kind, sum(count) AS count
FROM {schema}.delivery_counts
WHERE minute >= date_trunc('minute', now()) - make_interval(mins => $1 - 1)
GROUP BY minute, kind
ORDER BY minute
