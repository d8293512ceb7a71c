SELECT {schema}.repair_workflows(now() - make_interval(secs => $1))
