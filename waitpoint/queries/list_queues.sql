-- Every live producer (heartbeat within $1 seconds) with its queue's available jobs.
SELECT p.node, p.queue, p.limit_, p.running, p.paused, p.updated_at,
       (SELECT count(*) FROM {schema}.jobs j
        WHERE j.queue = p.queue AND j.state = 'available') AS available
FROM {schema}.producers p
WHERE p.updated_at > now() - make_interval(secs => $1)
ORDER BY p.queue, p.node
