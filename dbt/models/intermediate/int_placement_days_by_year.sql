-- Days each placement was open in each financial year, and the full-time equivalent (days
-- open / days in the year). Ongoing placements count up to the as-at date of the council's data.
-- A placement counts a place only on days its child held a plan (placements_under_plans): a
-- SEN2 entry date is the day the child joined the school, often years before the plan, and
-- counted from it the first years' mainstream places were twice the plans, their unit cost
-- half; a placement the case system left open after the child's last plan ceased (flagged
-- placement_open_after_plan_ceased) counted a place a year on for years. A child the plans
-- extract does not hold keeps its placements as given. And a spell another of the child's
-- spells takes over (placements_handed_over) counts until the day before the new one starts:
-- fte_in_ledger_period only between the ledger's first and last postings (what a part year's
-- spend pays for).
with placements_as_given as (
    select * from {{ ref('int_placements_classified') }}
),

-- a spell ends the day before a later spell of the child's at the same rank (not a dual
-- placement: SEN2 PlacementRank 1, or blank, beside 2) begins, if the later one lasts as long
-- or longer: the new spell is in force from its first day (as the census takes it), so a move
-- whose old spell ends the day the new one starts counts that day once (it counted in both),
-- and an old spell the case system never closed (flagged overlapping_placement) counts no place
-- beside the new one (it counted two for one child, every year). A short spell inside a longer
-- one (a term at a pupil referral unit) takes nothing from the longer one. Of two spells starting
-- the same day at the same rank, the one the census counts (the lower placement id) is in force
-- and the other, lasting no longer, counts no day (a record duplicated under a new id counted the
-- child twice in its type's places, its unit cost lower, with only overlapping_placement said)
placements_handed_over as (
    select
        earlier.la_code,
        earlier.placement_id,
        earlier.child_id,
        earlier.provision_type,
        earlier.annual_cost_gbp,
        earlier.start_date,
        coalesce(
            cast(min(later.start_date) - interval 1 day as date),
            earlier.end_date
        ) as end_date
    from placements_as_given as earlier
    left join placements_as_given as later
        on later.la_code = earlier.la_code
        and later.child_id = earlier.child_id
        and (
            later.start_date > earlier.start_date
            or (later.start_date = earlier.start_date and later.placement_id < earlier.placement_id)
        )
        and later.start_date <= coalesce(earlier.end_date, date '9999-12-31')
        and coalesce(later.end_date, date '9999-12-31')
            >= coalesce(earlier.end_date, date '9999-12-31')
        -- (one left blank beside a rank 2 is the main one: rank 1)
        and coalesce(earlier.placement_rank, 1) = coalesce(later.placement_rank, 1)
    group by earlier.la_code, earlier.placement_id, earlier.child_id, earlier.provision_type,
        earlier.annual_cost_gbp, earlier.start_date, earlier.end_date
),

-- each child's time under a plan: its plans' spans, merged where they overlap or meet (a plan
-- re-issued the day the last one ceased, or the day after, continues it)
plan_spans as (
    select
        la_code,
        child_id,
        plan_start_date as span_start,
        coalesce(plan_cease_date, date '9999-12-31') as span_end
    from {{ ref('stg_ehcp__plans') }}
),

plan_runs as (
    select
        la_code,
        child_id,
        span_start,
        span_end,
        sum(case when cast(span_start - interval 1 day as date) <= previous_end then 0 else 1 end)
            over (
                partition by la_code, child_id order by span_start, span_end
                rows between unbounded preceding and current row
            ) as run
    from (
        select
            *,
            max(span_end) over (
                partition by la_code, child_id order by span_start, span_end
                rows between unbounded preceding and 1 preceding
            ) as previous_end
        from plan_spans
    ) as ordered
),

plan_cover as (
    select la_code, child_id, min(span_start) as cover_start, max(span_end) as cover_end
    from plan_runs
    group by la_code, child_id, run
),

-- each placement's days under a plan of its child (a placement across a gap between two plans
-- is two pieces), or the placement as given for a child with no plan in the plans extract
placements_under_plans as (
    select
        placements.la_code,
        placements.placement_id,
        placements.child_id,
        placements.provision_type,
        placements.annual_cost_gbp,
        greatest(placements.start_date, cover.cover_start) as start_date,
        nullif(
            least(coalesce(placements.end_date, date '9999-12-31'), cover.cover_end),
            date '9999-12-31'
        ) as end_date
    from placements_handed_over as placements
    inner join plan_cover as cover
        on cover.la_code = placements.la_code
        and cover.child_id = placements.child_id
        and cover.cover_start <= coalesce(placements.end_date, date '9999-12-31')
        and cover.cover_end >= placements.start_date
    union all
    select placements.*
    from placements_handed_over as placements
    where not exists (
        select 1 from plan_spans
        where plan_spans.la_code = placements.la_code and plan_spans.child_id = placements.child_id
    )
),

bounds as (
    select * from {{ ref('int_data_as_at') }}
),

financial_years as (
    select
        la_code,
        {{ financial_year('fy_start') }} as financial_year,
        fy_start,
        cast(fy_start + interval 1 year - interval 1 day as date) as fy_end
    from (
        select la_code, cast(fy_start as date) as fy_start
        from (
            select la_code, {{ series(
                financial_year_start(financial_year('history_start_date')),
                financial_year_start(financial_year('as_at_date')),
                'interval 1 year'
            ) }} as fy_start
            from bounds
        ) as series
    ) as starts
),

spells_in_year as (
    select
        placements.la_code,
        placements.placement_id,
        placements.child_id,
        placements.provision_type,
        placements.annual_cost_gbp,
        financial_years.financial_year,
        financial_years.fy_start,
        financial_years.fy_end,
        greatest(placements.start_date, financial_years.fy_start) as open_from,
        least(coalesce(placements.end_date, bounds.as_at_date), bounds.as_at_date, financial_years.fy_end) as open_to,
        -- inside the ledger's postings (all of it without a ledger): the days a part year's
        -- spend pays for, from the first day of the month of its first posting (a month's
        -- payments posted on its last day pay for the whole month, as fct_provision_spend's
        -- completeness reads a first posting within a year's first month: counted from 30
        -- November, a ledger starting in November put 152 days' spend over 123 days' places, its
        -- unit costs 22-25 % high)
        greatest(placements.start_date, financial_years.fy_start,
            coalesce(
                cast({{ dbt.date_trunc('month', 'bounds.ledger_first_posting_date') }} as date),
                financial_years.fy_start
            )) as ledger_open_from,
        least(
            coalesce(placements.end_date, bounds.as_at_date), bounds.as_at_date, financial_years.fy_end,
            coalesce(bounds.ledger_last_posting_date, bounds.as_at_date)
        ) as ledger_open_to
    from placements_under_plans as placements
    inner join bounds on bounds.la_code = placements.la_code
    inner join financial_years
        on financial_years.la_code = placements.la_code
        and placements.start_date <= financial_years.fy_end
        and coalesce(placements.end_date, bounds.as_at_date) >= financial_years.fy_start
)

-- a placement across a gap between two plans has two pieces in a year: summed
select
    la_code,
    placement_id,
    child_id,
    provision_type,
    annual_cost_gbp,
    financial_year,
    cast(sum({{ dbt.datediff('open_from', 'open_to', 'day') }} + 1) as integer) as days_open,
    -- a fixed-point fraction, so that sums of it do not depend on the order rows are added in
    cast(sum(cast(
        ({{ dbt.datediff('open_from', 'open_to', 'day') }} + 1) / ({{ dbt.datediff('fy_start', 'fy_end', 'day') }} + 1)
        as decimal(18, 6)
    )) as decimal(18, 6)) as fte,
    cast(sum(cast(
        greatest({{ dbt.datediff('ledger_open_from', 'ledger_open_to', 'day') }} + 1, 0)
            / ({{ dbt.datediff('fy_start', 'fy_end', 'day') }} + 1)
        as decimal(18, 6)
    )) as decimal(18, 6)) as fte_in_ledger_period
from spells_in_year
where open_to >= open_from
group by la_code, placement_id, child_id, provision_type, annual_cost_gbp, financial_year
