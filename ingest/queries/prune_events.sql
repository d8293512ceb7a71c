-- One batch of event retention (prune_events() of migrations/006); -1: another process
-- is pruning.
SELECT {schema}.prune_events($1::text[], $2::double precision[], $3::double precision,
                             $4::integer)
