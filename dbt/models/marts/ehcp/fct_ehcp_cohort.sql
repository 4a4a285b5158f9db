-- The January caseload broken down by the drivers DBV looks at: primary need, age, curriculum
-- year, provision type and age when the plan started.
select
    cast(la_code as string) as la_code,
    census_date,
    cast(census_year as integer) as census_year,
    cast(primary_need as string) as primary_need,
    cast(age_group as string) as age_group,
    cast(ncy as integer) as ncy,
    cast(provision_type as string) as provision_type,
    cast(age_at_plan_start_band as string) as age_at_plan_start_band,
    cast(count(*) as bigint) as plans
from {{ ref('int_ehcp_census_snapshots') }}
group by all
order by all
