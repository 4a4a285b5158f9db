-- Plans issued and ceased in each census year (the twelve months up to a January census day),
-- each with the provision type the child was in: at issue, the placement open on the issue date
-- or else the first one that opened after it, by the census day that closes the year (one that
-- opened later is not where the child was: the child was counted 'none' on that day); at
-- cessation, the last placement that opened on or before the cease date, if it was still open on
-- the previous census day or later (one that had ended before the year began is not the one the
-- child left: the child was counted 'none' on that census day). 'none' when the child had no such
-- placement.
with windows as (
    select * from {{ ref('int_census_windows') }}
),

plans as (
    select * from {{ ref('stg_ehcp__plans') }}
),

placements as (
    select * from {{ ref('int_placements_classified') }}
),

events as (
    select la_code, plan_id, child_id, 'issued' as event, plan_start_date as event_date from plans
    union all
    select la_code, plan_id, child_id, 'ceased', plan_cease_date from plans where plan_cease_date is not null
),

in_window as (
    select windows.census_year, windows.period_start, windows.period_end, events.*
    from events
    inner join windows
        on windows.la_code = events.la_code
        and {{ in_census_window('events.event_date', 'windows') }}
),

-- the last placement of the child that opened on or before the event, and the first that opened
-- on or after it
placement_before as (
    {{ asof_join(
        columns=['in_window.la_code', 'in_window.plan_id', 'in_window.event', 'placements.provision_type', 'placements.end_date'],
        left='in_window', right='placements', equal=[['la_code', 'la_code'], ['child_id', 'child_id']],
        left_time='event_date', op='>=', right_time='start_date',
        left_key=['la_code', 'plan_id', 'event'], tie_break=['placement_id'],
    ) }}
),

placement_after as (
    {{ asof_join(
        columns=['in_window.la_code', 'in_window.plan_id', 'in_window.event', 'placements.provision_type', 'placements.start_date'],
        left='in_window', right='placements', equal=[['la_code', 'la_code'], ['child_id', 'child_id']],
        left_time='event_date', op='<=', right_time='start_date',
        left_key=['la_code', 'plan_id', 'event'], tie_break=['placement_id'],
    ) }}
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
    coalesce(
        case
            when in_window.event = 'ceased'
                and (placement_before.end_date is null or placement_before.end_date >= in_window.period_start)
                then placement_before.provision_type
            when placement_before.end_date is null or placement_before.end_date >= in_window.event_date
                then placement_before.provision_type
        end,
        case
            when in_window.event = 'issued' and placement_after.start_date <= in_window.period_end
                then placement_after.provision_type
        end,
        'none'
    ) as provision_type
from in_window
left join placement_before
    on placement_before.la_code = in_window.la_code
    and placement_before.plan_id = in_window.plan_id and placement_before.event = in_window.event
left join placement_after
    on placement_after.la_code = in_window.la_code
    and placement_after.plan_id = in_window.plan_id and placement_after.event = in_window.event
