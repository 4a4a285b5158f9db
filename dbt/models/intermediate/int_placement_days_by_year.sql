-- Days each placement was open in each financial year, and the full-time equivalent (days
-- open / days in the year). Ongoing placements count up to the as-at date of the council's data,
-- and no further than the day the child's last plan ceased when every plan of the child has
-- ceased (a placement the case system left open after it, flagged
-- placement_open_after_plan_ceased, counted a place a year on for years); fte_in_ledger_period
-- only between the ledger's first and last postings (what a part year's spend pays for).
with placements_as_given as (
    select * from {{ ref('int_placements_classified') }}
),

placements as (
    -- a placement open when the child's last plan ceased ends with it; one that starts after
    -- it (no plan covers it) counts no day: left as given, a college place begun after the
    -- cease counted a full place a year to the as-at date, and halved the type's unit cost
    select
        placements_as_given.la_code,
        placements_as_given.placement_id,
        placements_as_given.child_id,
        placements_as_given.provision_type,
        placements_as_given.annual_cost_gbp,
        placements_as_given.start_date,
        case
            when {{ open_after_plan_ceased('placements_as_given', 'plans_ceased.ceased_on') }}
                then plans_ceased.ceased_on
            else placements_as_given.end_date
        end as end_date
    from placements_as_given
    left join {{ children_with_every_plan_ceased(ref('stg_ehcp__plans')) }} as plans_ceased
        on plans_ceased.la_code = placements_as_given.la_code
        and plans_ceased.child_id = placements_as_given.child_id
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
    from placements
    inner join bounds on bounds.la_code = placements.la_code
    inner join financial_years
        on financial_years.la_code = placements.la_code
        and placements.start_date <= financial_years.fy_end
        and coalesce(placements.end_date, bounds.as_at_date) >= financial_years.fy_start
)

select
    la_code,
    placement_id,
    child_id,
    provision_type,
    annual_cost_gbp,
    financial_year,
    {{ dbt.datediff('open_from', 'open_to', 'day') }} + 1 as days_open,
    -- a fixed-point fraction, so that sums of it do not depend on the order rows are added in
    cast(
        ({{ dbt.datediff('open_from', 'open_to', 'day') }} + 1) / ({{ dbt.datediff('fy_start', 'fy_end', 'day') }} + 1)
        as decimal(18, 6)
    ) as fte,
    cast(
        greatest({{ dbt.datediff('ledger_open_from', 'ledger_open_to', 'day') }} + 1, 0)
            / ({{ dbt.datediff('fy_start', 'fy_end', 'day') }} + 1)
        as decimal(18, 6)
    ) as fte_in_ledger_period
from spells_in_year
where open_to >= open_from
