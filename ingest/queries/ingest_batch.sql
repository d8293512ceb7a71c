-- Commit a batch of accepted callbacks as typed arrays (ingest_batch() of
-- migrations/008_signal_batch_and_replay_guard.sql): replay keys, events, dedupe, and the
-- engine's signal_batch() for signals, wake-ups and NOTIFY.
SELECT * FROM {schema}.ingest_batch($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                    $6::text[], $7::bytea[], $8::text[], $9::text[],
                                    $10::integer[], $11::text[], $12::text[], $13::bytea[],
                                    $14::text[], $15::integer[], $16::bigint[], $17::bytea[],
                                    $18::double precision[])
