INSERT INTO {schema}.workflows (name, parent_id, propagate_to_parent) VALUES ($1, $2, $3)
RETURNING id
