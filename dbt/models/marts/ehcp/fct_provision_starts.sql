-- Placements that started in each census year by provision type, the child's age band at the
-- start and primary need: when children enter each provision type and what those places cost.
with starts as (
    select * from {{ ref('int_placement_starts') }}
)

select
    cast(census_year as integer) as year,
    provision_type::varchar as provision_type,
    {{ age_band('age_at_start') }}::varchar as age_at_start_band,
    primary_need::varchar as primary_need,
    cast(count(*) as bigint) as starts,
    -- an exact sum divided once, so the rounding does not depend on the order rows arrive in
    cast(round(sum(annual_cost_gbp) / count(*), 2) as decimal(18, 2)) as avg_annual_cost_gbp
from starts
group by all
order by all
