-- The job each claimed cron slot inserted.
UPDATE {schema}.cron_slots c SET job_id = r.job_id
FROM unnest($1::text[], $2::timestamptz[], $3::bigint[]) AS r(worker, slot, job_id)
WHERE c.worker = r.worker AND c.slot = r.slot
