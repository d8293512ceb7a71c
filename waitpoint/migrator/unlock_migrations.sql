SELECT pg_advisory_unlock(hashtext('waitpoint.migrate:{schema}'))
