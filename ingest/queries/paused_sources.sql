-- The sources an operator paused, for a receiver process starting or catching up.
SELECT source FROM {schema}.source_pauses
