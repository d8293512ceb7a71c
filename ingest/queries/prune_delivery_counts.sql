-- Delivery counts older than $1 seconds: the console charts hours and days, not months.
DELETE FROM {schema}.delivery_counts WHERE minute < now() - make_interval(secs => $1)
