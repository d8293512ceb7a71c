-- Whether the bookkeeping table exists yet (before the first migration it does not).
SELECT to_regclass('{schema}.migrations') IS NOT NULL
