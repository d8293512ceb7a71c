-- What queue $1 on node $2 was told: the node's own values over the ones for every node.
SELECT (array_agg(paused ORDER BY node = '*') FILTER (WHERE paused IS NOT NULL))[1] AS paused,
       (array_agg(limit_ ORDER BY node = '*') FILTER (WHERE limit_ IS NOT NULL))[1] AS limit_
FROM {schema}.queue_controls WHERE queue = $1 AND node IN ('*', $2)
