-- Serialise migrators of one schema: the second waits, then finds nothing left to do.
SELECT pg_advisory_lock(hashtext('waitpoint.migrate:{schema}'))
