-- Keyed signals nobody has claimed yet (no job waits for the key yet), newest first
-- after cursor $1 (signals_pending_key_idx holds only these).
SELECT id, key, source, inserted_at, expires_at, octet_length(payload) AS payload_bytes
FROM {schema}.signals
WHERE consumed_at IS NULL AND job_id IS NULL AND id < $1
ORDER BY id DESC
LIMIT $2
