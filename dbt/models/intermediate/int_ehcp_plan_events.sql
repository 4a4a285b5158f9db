-- Plans issued and ceased in each census year (the twelve months up to a January census day),
-- each with the provision type it counts in, so that each year's flows carry one census to the
-- next (census = last census + issued - ceased + moved in - moved out): a plan issued in the year
-- and on the census that closes it counts in the type that census gives it; a plan ceased in the
-- year that was on the census that opened it, in the type that census gave it (a child who moved
-- from mainstream to a special school and then ceased left mainstream's count). A plan on neither
-- census (issued and ceased inside the year, or ceased on the first census day in the data)
-- takes the child's placement at the event: the placement open on the event date, of two open
-- the one the census counts (SEN2 rank 1, else the later started); else, at issue, the first one
-- that opened after it, by the census day that closes the year (one that opened later is not
-- where the child was: the child was counted 'none' on that day); at cessation, the one that
-- ended last before it, if it was still open on the previous census day or later (one that had
-- ended before the year began is not the one the child left: the child was counted 'none' on that
-- census day). 'none' when the child had no such placement.
-- A plan re-issued under a new id (issued the day its child's previous plan ceased, or the day
-- after: plan_lineage) continues that plan: the old plan's cessation and the new plan's issue
-- are not flows, and the census days either side see one plan, the same lineage.
with windows as (
    select * from {{ ref('int_census_windows') }}
),

plans as (
    select * from {{ ref('stg_ehcp__plans') }}
),

placements as (
    select * from {{ ref('int_placements_classified') }}
),

snapshots as (
    select la_code, census_date, lineage_plan_id, provision_type
    from {{ ref('int_ehcp_census_snapshots') }}
),

lineage as (
    {{ plan_lineage('plans') }}
),

-- a plan's issue, unless it continues its child's previous plan; its cessation, unless the next
-- plan continues it
events as (
    select plans.la_code, plans.plan_id, lineage.lineage_plan_id, plans.child_id, 'issued' as event,
        plans.plan_start_date as event_date, cast(null as integer) as cease_reason
    from plans
    inner join lineage on lineage.la_code = plans.la_code and lineage.plan_id = plans.plan_id
    where not lineage.continues_previous
    union all
    select plans.la_code, plans.plan_id, lineage.lineage_plan_id, plans.child_id, 'ceased',
        plans.plan_cease_date, plans.cease_reason
    from plans
    inner join lineage on lineage.la_code = plans.la_code and lineage.plan_id = plans.plan_id
    where plans.plan_cease_date is not null and not lineage.continued_by_next
),

in_window as (
    select windows.census_year, windows.period_start, windows.period_end, events.*
    from events
    inner join windows
        on windows.la_code = events.la_code
        and {{ in_census_window('events.event_date', 'windows') }}
),

-- the child's placement at the event: one open on the event date, in the order that says where
-- the child is (the main one, SEN2 rank 1, else the later started: as the census counts them; a
-- long placement still open beside a short one that has ended is the open one, not none); else,
-- at issue, the first that opened after it by the census day closing the year, and at cessation
-- the one that ended last before it, if it was still open on the previous census day or later
placement_at as (
    select
        in_window.la_code,
        in_window.plan_id,
        in_window.event,
        placements.provision_type
    from in_window
    inner join placements
        on placements.la_code = in_window.la_code
        and placements.child_id = in_window.child_id
        and (
            {{ placement_open_on('placements', 'in_window.event_date') }}
            or (
                in_window.event = 'issued'
                and placements.start_date > in_window.event_date
                and placements.start_date <= in_window.period_end
            )
            or (
                in_window.event = 'ceased'
                and placements.end_date < in_window.event_date
                and placements.end_date >= in_window.period_start
            )
        )
    qualify row_number() over (
        partition by in_window.la_code, in_window.plan_id, in_window.event
        order by
            case when {{ placement_open_on('placements', 'in_window.event_date') }} then 0 else 1 end,
            -- of those not open on the day (the open ones all start on or before it and end on or
            -- after it): at issue the first to open, at cessation the last to end
            case when in_window.event = 'issued' and placements.start_date > in_window.event_date
                then placements.start_date end asc nulls last,
            case when in_window.event = 'ceased' and placements.end_date < in_window.event_date
                then placements.end_date end desc nulls last,
            {{ placement_in_force_order('placements') }}
    ) = 1
)

select
    in_window.la_code,
    in_window.census_year,
    in_window.period_start,
    in_window.period_end,
    in_window.plan_id,
    in_window.child_id,
    in_window.event,
    in_window.event_date,
    in_window.cease_reason,
    coalesce(on_census.provision_type, placement_at.provision_type, 'none') as provision_type
from in_window
left join placement_at
    on placement_at.la_code = in_window.la_code
    and placement_at.plan_id = in_window.plan_id and placement_at.event = in_window.event
-- issued: the census closing the year; ceased: the census opening it
left join snapshots as on_census
    on on_census.la_code = in_window.la_code
    and on_census.lineage_plan_id = in_window.lineage_plan_id
    and on_census.census_date = case
        when in_window.event = 'issued' then in_window.period_end else in_window.period_start
    end
