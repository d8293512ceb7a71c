-- One receiver process's counts since its last flush (add_delivery_counts() of migration 007).
SELECT {schema}.add_delivery_counts($1::timestamptz[], $2::text[], $3::text[], $4::text[],
                                    $5::bigint[])
