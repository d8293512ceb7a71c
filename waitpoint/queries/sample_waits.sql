-- Jobs snoozed waiting for a signal, and since when the oldest has waited.
SELECT count(*) AS waiting,
       extract(epoch FROM now() - min((meta -> 'await' ->> 'snoozed_at')::timestamptz))
         AS oldest_seconds
FROM {schema}.jobs
WHERE state IN ('scheduled', 'suspended') AND meta ? 'await'
