-- The leader's depth sample, for every process to read (record_depth_sample(), migration 015).
SELECT {schema}.record_depth_sample($1::text[], $2::text[], $3::bigint[], $4::bigint,
                                    $5::timestamptz, $6::timestamptz)
