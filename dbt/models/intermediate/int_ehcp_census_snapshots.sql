-- The caseload on each January census day: every child with a plan active that day (issued on or
-- before it, not ceased by it), with the child's curriculum age and the placement they attended.
-- A child holds one plan; a child with two active (a data error, flagged overlapping_plan in
-- int_data_quality_flags) counts once, on the earlier plan, as SEN2 counts them.
with census as (
    select * from {{ ref('int_census_dates') }}
),

plans as (
    select * from {{ ref('stg_ehcp__plans') }}
),

placements as (
    select * from {{ ref('int_placements_classified') }}
),

-- each plan's lineage: a plan re-issued under a new id continues the one it replaced, so the
-- flows can follow the child from one census to the next
lineage as (
    {{ plan_lineage('plans') }}
),

active_plans as (
    select
        census.la_code,
        census.census_year,
        census.census_date,
        plans.plan_id,
        lineage.lineage_plan_id,
        plans.child_id,
        plans.primary_need,
        plans.plan_start_date,
        {{ curriculum_age('plans.date_of_birth', 'census.census_date') }} as age,
        -- a re-issued plan's child started their plan when the lineage did
        {{ curriculum_age('plans.date_of_birth', 'lineage.lineage_start_date') }} as age_at_plan_start
    from census
    inner join plans
        on plans.la_code = census.la_code
        and plans.plan_start_date <= census.census_date
    inner join lineage on lineage.la_code = plans.la_code and lineage.plan_id = plans.plan_id
    where plans.plan_cease_date is null
        or plans.plan_cease_date > census.census_date
        -- ceased on census day and re-issued the day after: the child held a plan that day
        or (
            lineage.continued_by_next
            and plans.plan_cease_date = census.census_date
            and lineage.next_start_date > census.census_date
        )
    qualify row_number() over (
        partition by census.la_code, census.census_date, plans.child_id
        order by plans.plan_start_date, plans.plan_id
    ) = 1
),

with_placement as (
    select
        active_plans.*,
        placements.placement_id,
        placements.provision_type as placement_provision_type
    from active_plans
    left join placements
        on placements.la_code = active_plans.la_code
        and placements.child_id = active_plans.child_id
        and {{ placement_open_on('placements', 'active_plans.census_date') }}
    -- a child attending more than one setting on census day counts in the main one
    qualify row_number() over (
        partition by active_plans.la_code, active_plans.census_date, active_plans.plan_id
        order by {{ placement_in_force_order('placements') }}
    ) = 1
)

select
    la_code,
    census_year,
    census_date,
    plan_id,
    lineage_plan_id,
    child_id,
    primary_need,
    plan_start_date,
    age,
    age - 4 as ncy,
    {{ age_band('age') }} as age_group,
    age_at_plan_start,
    {{ age_band('age_at_plan_start') }} as age_at_plan_start_band,
    placement_id,
    coalesce(placement_provision_type, 'none') as provision_type
from with_placement
