-- The January caseload broken down by the drivers DBV looks at: primary need, age, curriculum
-- year, provision type and age when the plan started.
select
    census_date,
    cast(census_year as integer) as census_year,
    primary_need::varchar as primary_need,
    age_group::varchar as age_group,
    cast(ncy as integer) as ncy,
    provision_type::varchar as provision_type,
    age_at_plan_start_band::varchar as age_at_plan_start_band,
    cast(count(*) as bigint) as plans
from {{ ref('int_ehcp_census_snapshots') }}
group by all
order by all
