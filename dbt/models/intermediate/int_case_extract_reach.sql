-- How far each council's case-system extracts (plans; placements) reach, and so the last census
-- day they can count. An extract reaches the day its files' names give (`plans_2025-10-31.csv`:
-- the day the list was taken) where every loaded file names one, whatever its dates (a cease or
-- end date can be planned, next July); without a name on every file, the latest of the named
-- days and of its start, cease and end dates; a SEN2 return reaches its own census day. Census
-- days are counted up to the latest date of any extract, so a plans extract taken in October
-- beside a ledger to March had January's census counted without the plans started, ceased or
-- moved since, with every gate green. A census is counted only if both extracts reach it, or fall
-- short of it by no more than twice the longest spell without a start, cease or end date in
-- the year before they stop (the council's quiet Christmas; at least 14 days): a busy council's
-- list stopping six weeks before census day was taken before it, while a council of a few dozen
-- plans, months without a start or cease, may have taken its list after census day (the gate
-- case_extracts_reach_census warns when such a census, counted, is more than 60 days on).
with files as (
    select la_code, kind,
        min(case when named_day is null then 0 else 1 end) = 1 as every_file_named,
        max(named_day) as named_day,
        max(census_date) as census_date
    from (
        select la_code, 'plans' as kind, named_day, census_date
        from {{ source('raw', 'ehcp_files') }} where in_landing and status = 'loaded'
        union all
        select la_code, 'placements' as kind, named_day, census_date
        from {{ source('raw', 'placements_files') }} where in_landing and status = 'loaded'
    ) as loaded
    group by la_code, kind
),

events as (
    select la_code, 'plans' as kind, plan_start_date as event_date from {{ ref('stg_ehcp__plans') }}
    union all
    select la_code, 'plans', plan_cease_date from {{ ref('stg_ehcp__plans') }}
    where plan_cease_date is not null
    union all
    select la_code, 'placements', start_date from {{ ref('stg_placements__spells') }}
    union all
    select la_code, 'placements', end_date from {{ ref('stg_placements__spells') }}
    where end_date is not null
),

dated as (
    select la_code, kind, max(event_date) as last_date from events group by la_code, kind
),

reach as (
    select
        dated.la_code,
        dated.kind,
        dated.last_date,
        greatest(
            files.named_day,
            case when not coalesce(files.every_file_named, false) then dated.last_date end,
            -- a SEN2 return is as at its census day (its header's referencedate), whatever its
            -- last event's date: it reaches that census
            files.census_date
        ) as reach_date
    from dated
    left join files on files.la_code = dated.la_code and files.kind = dated.kind
),

-- the days with a start, cease or end date in the year up to where each extract reaches, and
-- the gap since the one before
event_days as (
    select
        events.la_code,
        events.kind,
        events.event_date,
        lag(events.event_date) over (
            partition by events.la_code, events.kind order by events.event_date
        ) as previous_date
    from (select distinct la_code, kind, event_date from events) as events
    inner join reach on reach.la_code = events.la_code and reach.kind = events.kind
    where events.event_date <= reach.reach_date
        and events.event_date > {{ dbt.dateadd('day', -365, 'reach.reach_date') }}
),

quiet as (
    select la_code, kind,
        max({{ dbt.datediff('previous_date', 'event_date', 'day') }}) as longest_quiet_days
    from event_days
    group by la_code, kind
),

allowed as (
    select
        reach.la_code,
        reach.kind,
        reach.last_date,
        reach.reach_date,
        quiet.longest_quiet_days,
        greatest(14, 2 * coalesce(quiet.longest_quiet_days, 30)) as allowed_days_short
    from reach
    left join quiet on quiet.la_code = reach.la_code and quiet.kind = reach.kind
)

select
    cast(la_code as string) as la_code,
    cast(kind as string) as kind,
    last_date,
    reach_date,
    cast(longest_quiet_days as integer) as longest_quiet_days,
    cast(allowed_days_short as integer) as allowed_days_short,
    cast({{ dbt.dateadd('day', 'allowed_days_short', 'reach_date') }} as date) as counts_census_to
from allowed
