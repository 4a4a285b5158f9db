{{ config(meta={'dagster': {'ref': {'name': 'fct_spend_by_s251_line'}}}) }}
-- Fails with one row per council, financial year and provision type where spend by S251 line does not
-- add up to fct_provision_spend to the penny.
with by_line as (
    select la_code, financial_year, provision_type, sum(spend_gbp) as spend_gbp
    from {{ ref('fct_spend_by_s251_line') }}
    group by all
)

select provision.la_code, provision.financial_year, provision.provision_type, provision.spend_gbp, by_line.spend_gbp as by_line_gbp
from {{ ref('fct_provision_spend') }} as provision
left join by_line using (la_code, financial_year, provision_type)
where provision.spend_gbp <> coalesce(by_line.spend_gbp, 0)
