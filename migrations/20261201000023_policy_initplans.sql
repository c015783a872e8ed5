-- Row-level security policies evaluate `app_municipality()` / `app_is_platform()` once per
-- statement instead of once per row: wrapped in a scalar sub-select the planner computes them
-- as an InitPlan. The rules are unchanged (the same functions of the same transaction-local
-- settings); only where they are evaluated moves. Rewrites every policy of the schema, so the
-- policies of later migrations should be written in the wrapped form directly.
DO $$
DECLARE
    p record;
    using_expr text;
    check_expr text;
BEGIN
    FOR p IN SELECT schemaname, tablename, policyname, qual, with_check
             FROM pg_policies WHERE schemaname = 'public'
    LOOP
        using_expr := replace(replace(p.qual, 'app_municipality()', '(SELECT app_municipality())'),
                              'app_is_platform()', '(SELECT app_is_platform())');
        check_expr := replace(replace(p.with_check, 'app_municipality()', '(SELECT app_municipality())'),
                              'app_is_platform()', '(SELECT app_is_platform())');
        IF using_expr IS DISTINCT FROM p.qual THEN
            EXECUTE format('ALTER POLICY %I ON %I.%I USING (%s)', p.policyname, p.schemaname,
                           p.tablename, using_expr);
        END IF;
        IF check_expr IS DISTINCT FROM p.with_check THEN
            EXECUTE format('ALTER POLICY %I ON %I.%I WITH CHECK (%s)', p.policyname, p.schemaname,
                           p.tablename, check_expr);
        END IF;
    END LOOP;
END
$$;
