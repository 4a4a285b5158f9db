-- The floor: the spend and cohort marts built from the landing files with DuckDB alone — no
-- Dagster, no dbt, no contract, quarantine, provenance, pseudonymisation, gates or forecast.
-- Every benchmark run is compared with this script on the same files (bench/run.py replaces
-- {landing} with the landing folder). It mirrors the pipeline's business rules (provision type
-- from the GIAS type or SEN2 setting, spend allocated by named placement, then the child's
-- placement on the posting date, then the provider's type, else central; placement days per
-- financial year; census-day caseload) so the two do the same work that matters.

CREATE TEMP TABLE plans AS
SELECT * FROM read_csv('{landing}/ehcp/*.csv', header = true, dateformat = '%Y-%m-%d');
CREATE TEMP TABLE placements AS
SELECT * FROM read_csv('{landing}/placements/*.csv', header = true, dateformat = '%Y-%m-%d',
                       types = {'urn': 'VARCHAR', 'ukprn': 'VARCHAR', 'establishment_type_code': 'INTEGER'});
CREATE TEMP TABLE ledger AS
SELECT * FROM read_csv('{landing}/finance/*.csv', header = true, dateformat = '%Y-%m-%d',
                       types = {'amount': 'DECIMAL(18,2)', 'provider_urn': 'VARCHAR', 'provider_ukprn': 'VARCHAR',
                                's251_line': 'VARCHAR'});

CREATE TEMP TABLE classified AS
SELECT p.*,
       CASE
           WHEN p.establishment_type_code IN (1, 2, 3, 5, 6, 11, 28, 34, 35, 40, 41)
               THEN CASE WHEN p.sen_unit = 'Y' OR p.resourced_provision = 'Y' THEN 'mainstream_rp_unit' ELSE 'mainstream' END
           WHEN p.establishment_type_code IN (7, 12, 33, 36, 44) THEN 'mss'
           WHEN p.establishment_type_code IN (8, 10) THEN 'inmss'
           WHEN p.establishment_type_code IN (14, 38, 42, 43) THEN 'ap'
           WHEN p.establishment_type_code IN (18, 31, 39, 45, 46) THEN 'post16_fe'
           WHEN p.establishment_type_code = 32 THEN 'post16_spi'
           WHEN p.establishment_type_code = 15 THEN 'early_years'
           WHEN p.establishment_type_code IS NOT NULL THEN 'other'
           WHEN p.sen_setting = 'OLA' THEN 'eotas'
           WHEN p.sen_setting = 'EYP' THEN 'early_years'
           WHEN p.sen_setting IN ('OPA', 'EHE', 'OTH') THEN 'other'
           WHEN p.ukprn IS NOT NULL THEN 'post16_fe'
           ELSE 'none'
       END AS provision_type
FROM placements p;

CREATE TEMP TABLE provider_types AS
SELECT coalesce(urn, ukprn) AS provider_id, mode(replace(provision_type, '_rp_unit', '')) AS provision_type
FROM classified WHERE coalesce(urn, ukprn) IS NOT NULL GROUP BY 1;

CREATE TEMP TABLE allocated AS
WITH tx AS (
    SELECT l.*,
           (year(posting_date) - CASE WHEN month(posting_date) < 4 THEN 1 ELSE 0 END) AS fy,
           s251_line LIKE '1.2.%' OR s251_line = '1.0.2' AS is_high_needs
    FROM ledger l
),
named AS (
    SELECT tx.*, c.provision_type AS named_type FROM tx LEFT JOIN classified c ON c.placement_id = tx.placement_id
),
by_child AS (
    SELECT named.*, CASE WHEN c.end_date IS NULL OR c.end_date >= named.posting_date THEN c.provision_type END AS child_type
    FROM named ASOF LEFT JOIN classified c ON c.child_id = named.child_id AND named.posting_date >= c.start_date
)
SELECT fy, amount,
       coalesce(named_type, child_type,
                CASE WHEN s251_line IN ('1.0.2', '1.2.1', '1.2.2', '1.2.3', '1.2.4') THEN pt.provision_type END,
                'central') AS provision_type
FROM by_child LEFT JOIN provider_types pt ON pt.provider_id = coalesce(by_child.provider_urn, by_child.provider_ukprn)
WHERE is_high_needs;

CREATE TEMP TABLE fct_provision_spend AS
WITH years AS (SELECT DISTINCT fy FROM allocated),
days AS (
    SELECT c.provision_type, y.fy, c.placement_id,
           (least(coalesce(c.end_date, DATE '2100-01-01'), make_date(y.fy + 1, 3, 31))
            - greatest(c.start_date, make_date(y.fy, 4, 1)) + 1) / 365.25 AS fte
    FROM classified c JOIN years y
      ON c.start_date <= make_date(y.fy + 1, 3, 31) AND coalesce(c.end_date, DATE '2100-01-01') >= make_date(y.fy, 4, 1)
),
spend AS (SELECT fy, provision_type, sum(amount) AS spend_gbp FROM allocated GROUP BY ALL),
volume AS (SELECT fy, provision_type, count(DISTINCT placement_id) AS placements, sum(fte) AS fte FROM days GROUP BY ALL)
SELECT coalesce(spend.fy, volume.fy) AS fy, coalesce(spend.provision_type, volume.provision_type) AS provision_type,
       coalesce(spend_gbp, 0) AS spend_gbp, coalesce(placements, 0) AS placements, coalesce(fte, 0) AS fte,
       spend_gbp / nullif(fte, 0) AS unit_cost_gbp
FROM spend FULL JOIN volume USING (fy, provision_type);

CREATE TEMP TABLE fct_ehcp_cohort AS
WITH census AS (
    SELECT y AS census_year,
           make_date(y, 1, 1) + CAST((11 - isodow(make_date(y, 1, 1))) % 7 AS INTEGER) + 14 AS census_date
    FROM range(2018, 2027) t(y)
),
active AS (
    SELECT census.census_year, census.census_date, p.plan_id, p.child_id, p.primary_need, p.date_of_birth,
           p.plan_start_date
    FROM census JOIN plans p
      ON p.plan_start_date <= census.census_date AND (p.plan_cease_date IS NULL OR p.plan_cease_date > census.census_date)
),
placed AS (
    SELECT active.*, c.provision_type
    FROM active LEFT JOIN classified c
      ON c.child_id = active.child_id AND c.start_date <= active.census_date
     AND (c.end_date IS NULL OR c.end_date >= active.census_date)
    QUALIFY row_number() OVER (PARTITION BY active.census_date, active.plan_id ORDER BY c.start_date DESC NULLS LAST) = 1
)
SELECT census_date, primary_need,
       date_diff('year', date_of_birth, make_date(census_year - 1, 8, 31)) AS age,
       coalesce(provision_type, 'none') AS provision_type,
       date_diff('year', date_of_birth, plan_start_date) AS age_at_plan_start,
       count(*) AS plans
FROM placed GROUP BY ALL;

SELECT (SELECT sum(spend_gbp) FROM fct_provision_spend) AS spend_gbp, (SELECT sum(plans) FROM fct_ehcp_cohort) AS plans;
