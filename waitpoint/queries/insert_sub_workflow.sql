INSERT INTO {schema}.workflows (name, parent_id) VALUES ($1, $2) RETURNING id
