SELECT max(slot) FROM {schema}.cron_slots WHERE worker = $1
