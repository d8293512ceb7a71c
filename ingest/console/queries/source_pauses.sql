-- Paused sources, who paused them and when.
SELECT source, paused_at, paused_by FROM {schema}.source_pauses ORDER BY source
