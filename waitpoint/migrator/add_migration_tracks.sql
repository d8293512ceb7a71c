-- Give a bookkeeping table made before tracks its track column and key; its rows are then
-- replaced by what legacy_applied_migrations.sql reads from them.
ALTER TABLE {schema}.migrations ADD COLUMN track text NOT NULL DEFAULT 'waitpoint';
ALTER TABLE {schema}.migrations DROP CONSTRAINT migrations_pkey;
DELETE FROM {schema}.migrations;
ALTER TABLE {schema}.migrations ADD PRIMARY KEY (track, version);
