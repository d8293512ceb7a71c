SELECT {job_columns} FROM {schema}.jobs
WHERE ($1::text IS NULL OR state::text = $1)
  AND ($2::text IS NULL OR queue = $2)
ORDER BY id DESC
LIMIT $3
