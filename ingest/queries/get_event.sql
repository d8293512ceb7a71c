SELECT id, source, delivery_id, outcome, signals::text AS signals, errors::text AS errors,
       headers::text AS headers, body
FROM {schema}.events WHERE id = $1
