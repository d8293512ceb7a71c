SELECT {schema}.replay_event($1, $2::text::jsonb, $3, $4::text::jsonb, $5)
