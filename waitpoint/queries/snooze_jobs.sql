-- Commit the waits a producer's jobs entered (snooze_named_jobs() of migrations/007): one
-- array per SnoozeAck field (_ack.snooze_arrays).
SELECT job_id, available
FROM {schema}.snooze_named_jobs($1::bigint[], $2::integer[], $3::text[],
                                $4::double precision[], $5::text[], $6::text[])
