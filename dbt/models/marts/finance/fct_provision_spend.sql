-- High needs spend, placements and unit cost per financial year and provision type: the DBV
-- "spend by provision" table. Every provision type appears in every year (zero when none), so
-- spend sums to the high needs spend of the ledger to the penny. Per council.
with spend as (
    select * from {{ ref('int_spend_allocated') }} where is_high_needs
),

placement_years as (
    select * from {{ ref('int_placement_days_by_year') }}
),

provision_types as (
    select * from {{ ref('provision_types') }}
),

bounds as (
    select * from {{ ref('int_data_as_at') }}
),

financial_years as (
    select distinct la_code, financial_year from {{ ref('stg_finance__transactions') }}
),

grid as (
    select financial_years.la_code, financial_years.financial_year, provision_types.provision_type, provision_types.sort_order,
        provision_types.has_placements
    from financial_years cross join provision_types
),

-- the ledger's last posting and the first year of its financial year (2025 for 2025-26)
ledger_point as (
    select la_code, ledger_last_posting_date,
        cast(left({{ financial_year('ledger_last_posting_date') }}, 4) as integer) as start_year
    from bounds
),

spend_totals as (
    select spend.la_code, spend.financial_year, spend.provision_type, sum(spend.amount_gbp) as spend_gbp,
        -- posted by the same calendar day of each year, a month's last day when the ledger stops
        -- on one (28 February 2025 is 29 February 2024: a count of days moved the point a day
        -- in a leap year, and a month-end payment run with it): how far a year's spend had come
        -- when the year in progress stopped (the forecast estimates the rest of that year from it)
        sum(case
            when spend.posting_date <= {{ same_day_in_year(
                'ledger_point.ledger_last_posting_date', 'ledger_point.start_year', 'spend.financial_year') }}
                then spend.amount_gbp
            else 0
        end) as spend_by_ledger_point_gbp
    from spend
    inner join ledger_point on ledger_point.la_code = spend.la_code
    group by spend.la_code, spend.financial_year, spend.provision_type
),

-- whole when the extracts reach the year's last day and the ledger itself holds its first and
-- last months, the last as whole as its others: another extract's later dates cannot make eleven
-- months of spend a year, nor a ledger extracted on 2 March, nor a ledger that starts in the
-- year's last week
completeness as (
    select financial_years.la_code, financial_years.financial_year,
        cast(bounds.as_at_date >= {{ financial_year_start('financial_years.financial_year') }} + interval 1 year - interval 1 day
            and bounds.ledger_first_posting_date < {{ financial_year_start('financial_years.financial_year') }} + interval 1 month
            and (
                bounds.ledger_last_posting_date >= {{ financial_year_start('financial_years.financial_year') }} + interval 1 year
                or (
                    bounds.ledger_last_posting_date >= {{ financial_year_start('financial_years.financial_year') }} + interval 11 month
                    and bounds.ledger_last_month_whole
                )
            )
            as boolean) as is_complete_year,
        -- the ledger's postings in the year span a month: a year it holds a day or a week of
        -- (1 April's accrual reversals, extracted on 2 April) has no unit cost to speak of, and
        -- its spend over a day's placements read −£2,085,505.74 a place
        cast(least(bounds.ledger_last_posting_date,
                {{ financial_year_start('financial_years.financial_year') }} + interval 1 year - interval 1 day)
            >= greatest(bounds.ledger_first_posting_date,
                {{ financial_year_start('financial_years.financial_year') }}) + interval 1 month - interval 1 day
            as boolean) as ledger_spans_a_month
    from financial_years
    inner join bounds on bounds.la_code = financial_years.la_code
),

placement_totals as (
    select
        placement_years.la_code,
        placement_years.financial_year,
        placement_years.provision_type,
        count(distinct placement_years.placement_id) as placements,
        sum(placement_years.fte) as fte_placements,
        -- the places the year's spend pays for: the year's, or in a year the ledger does not
        -- hold whole, those inside its postings
        sum(case when completeness.is_complete_year = false
            then placement_years.fte_in_ledger_period else placement_years.fte end) as fte_paid_for
    from placement_years
    inner join completeness
        on completeness.la_code = placement_years.la_code
        and completeness.financial_year = placement_years.financial_year
    group by placement_years.la_code, placement_years.financial_year, placement_years.provision_type
)

select
    cast(grid.la_code as string) as la_code,
    cast(grid.financial_year as string) as financial_year,
    cast(grid.provision_type as string) as provision_type,
    cast(coalesce(spend_totals.spend_gbp, 0) as decimal(18, 2)) as spend_gbp,
    cast(coalesce(spend_totals.spend_by_ledger_point_gbp, 0) as decimal(18, 2)) as spend_by_ledger_point_gbp,
    cast(coalesce(placement_totals.placements, 0) as bigint) as placements,
    cast(round(coalesce(placement_totals.fte_placements, 0), 4) as double) as fte_placements,
    -- divided in double precision, as DuckDB divides decimals (Spark would divide them exactly);
    -- a year the ledger does not hold whole: its spend over the placements' days inside the
    -- ledger's postings (a ledger stopping in October beside placements to March read 40 % low)
    cast(case
        when grid.has_placements and placement_totals.fte_paid_for > 0
            and (completeness.is_complete_year or completeness.ledger_spans_a_month)
            then {{ round_double(
                'cast(coalesce(spend_totals.spend_gbp, 0) as double) / cast(placement_totals.fte_paid_for as double)', 2) }}
    end as decimal(18, 2)) as unit_cost_gbp,
    completeness.is_complete_year
from grid
inner join completeness
    on completeness.la_code = grid.la_code and completeness.financial_year = grid.financial_year
left join spend_totals
    on spend_totals.la_code = grid.la_code
    and spend_totals.financial_year = grid.financial_year and spend_totals.provision_type = grid.provision_type
left join placement_totals
    on placement_totals.la_code = grid.la_code
    and placement_totals.financial_year = grid.financial_year and placement_totals.provision_type = grid.provision_type
order by grid.la_code, grid.financial_year, grid.sort_order
