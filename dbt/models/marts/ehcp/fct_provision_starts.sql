-- Placements that started in each census year by provision type, the child's age band at the
-- start and primary need: when children enter each provision type and what those places cost.
with starts as (
    select * from {{ ref('int_placement_starts') }}
)

select
    cast(la_code as string) as la_code,
    cast(census_year as integer) as year,
    cast(provision_type as string) as provision_type,
    cast({{ age_band('age_at_start') }} as string) as age_at_start_band,
    cast(primary_need as string) as primary_need,
    cast(count(*) as bigint) as starts,
    -- the placements with a commissioned cost: a blank cost is not known, not £0
    cast(count(annual_cost_gbp) as bigint) as costed_starts,
    -- an exact sum divided once, so the rounding does not depend on the order rows arrive in; the
    -- division in double precision, as DuckDB divides decimals (Spark would divide them exactly,
    -- a penny apart on a few halves)
    cast(
        {{ round_double('cast(sum(annual_cost_gbp) as double) / count(annual_cost_gbp)', 2) }}
        as decimal(18, 2)
    ) as avg_annual_cost_gbp
from starts
group by all
order by all
