-- Placement spells that opened in each census year and took the child into a provision type,
-- with the child's curriculum age at the start and the primary need of the plan in force (or,
-- failing that, the child's first plan). A spell that carries on the child's earlier spells in
-- the same provision type — a new record at the same school each September, a move between two
-- special schools: one of them still open or ended within 92 days (a summer holiday's gap and
-- more), whatever other spells came between — took the child into nothing new, and is not a
-- start. A spell without an end date ends where the child's next spell (at its rank) begins, as
-- int_placement_days_by_year counts it: a placements extract without end dates had every
-- earlier spell of a type read as open, and a child returning to the type after years elsewhere
-- was no start (3,190 starts published against 3,310, green).
with windows as (
    select * from {{ ref('int_census_windows') }}
),

classified as (
    select
        *,
        lead(start_date) over (
            partition by la_code, child_id, coalesce(placement_rank, 1)
            order by start_date, placement_id
        ) as next_start_date
    from {{ ref('int_placements_classified') }}
),

placements as (
    select
        *,
        -- the latest end of the child's earlier spells in this type (an open one that no later
        -- spell took over: never ended)
        max(coalesce(
            end_date,
            cast(next_start_date - interval 1 day as date),
            cast('9999-12-31' as date)
        )) over (
            partition by la_code, child_id, provision_type
            order by start_date, placement_id
            rows between unbounded preceding and 1 preceding
        ) as same_type_ended
    from classified
),

entries as (
    select * from placements
    where same_type_ended is null
        or same_type_ended < cast(start_date - interval 92 day as date)
),

plans as (
    select * from {{ ref('stg_ehcp__plans') }}
),

starts as (
    select windows.census_year, entries.*
    from entries
    inner join windows
        on windows.la_code = entries.la_code
        and {{ in_census_window('entries.start_date', 'windows') }}
),

-- the child's plan that started last on or before the placement started
plan_in_force as (
    {{ asof_join(
        columns=['starts.la_code', 'starts.placement_id', 'plans.primary_need', 'plans.date_of_birth'],
        left='starts', right='plans', equal=[['la_code', 'la_code'], ['child_id', 'child_id']],
        left_time='start_date', op='>=', right_time='plan_start_date',
        left_key=['la_code', 'placement_id'], tie_break=['plan_id'],
    ) }}
),

first_plan as (
    -- the need of the child's first plan; of two plans starting the same day, the first by plan id
    -- (ISO dates order as text, so the date and the id together make one key both engines order)
    select
        la_code,
        child_id,
        min_by(primary_need, concat(cast(plan_start_date as string), '|', plan_id)) as primary_need,
        min(date_of_birth) as date_of_birth
    from plans
    group by la_code, child_id
)

select
    starts.la_code,
    starts.census_year,
    starts.placement_id,
    starts.child_id,
    starts.start_date,
    starts.provision_type,
    starts.annual_cost_gbp,
    coalesce(plan_in_force.primary_need, first_plan.primary_need) as primary_need,
    {{ curriculum_age('coalesce(plan_in_force.date_of_birth, first_plan.date_of_birth)', 'starts.start_date') }} as age_at_start
from starts
left join plan_in_force
    on plan_in_force.la_code = starts.la_code and plan_in_force.placement_id = starts.placement_id
left join first_plan on first_plan.la_code = starts.la_code and first_plan.child_id = starts.child_id
-- a placement for a child with no plan in the ehcp extract has no age or need: it is counted
-- in the data-quality checks, not here
where coalesce(plan_in_force.primary_need, first_plan.primary_need) is not null
