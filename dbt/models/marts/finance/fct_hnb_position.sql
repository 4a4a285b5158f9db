-- The high needs block position per financial year: funding (allocation after place deductions,
-- plus block transfers, LA contribution and other income) against spend, and the cumulative
-- balance, anchored on the balance brought forward of the earliest year from the ledger's first
-- complete one the budget gives one for (zero at the start of the first complete year when it
-- gives none), the year after a complete ledger's last included. Per council.
with budget as (
    select * from {{ ref('stg_budget__lines') }}
),

spend as (
    select la_code, financial_year, sum(spend_gbp) as spend_gbp, bool_and(is_complete_year) as is_complete_year
    from {{ ref('fct_provision_spend') }}
    group by la_code, financial_year
),

funding as (
    select
        la_code,
        financial_year,
        coalesce(sum(amount_gbp) filter (where line = 'hnb_allocation'), 0) as hnb_allocation_gbp,
        -- deductions reduce funding whichever sign the council's file gives them
        coalesce(sum(abs(amount_gbp)) filter (where line = 'place_deductions'), 0) as place_deductions_gbp,
        coalesce(sum(amount_gbp) filter (where line = 'block_transfer'), 0) as block_transfer_gbp,
        coalesce(sum(amount_gbp) filter (where line = 'la_contribution'), 0) as la_contribution_gbp,
        coalesce(sum(amount_gbp) filter (where line = 'other_income'), 0) as other_income_gbp,
        sum(amount_gbp) filter (where line = 'balance_brought_forward') as balance_brought_forward_gbp,
        -- a year's high needs budget is its allocation: a balance brought forward or another DSG
        -- block's lines alone leave its funding unknown, not nothing
        count(*) filter (where line = 'hnb_allocation') > 0 as has_allocation
    from budget
    group by la_code, financial_year
),

years as (
    select
        spend.la_code,
        spend.financial_year,
        coalesce(funding.hnb_allocation_gbp, 0) as hnb_allocation_gbp,
        coalesce(funding.place_deductions_gbp, 0) as place_deductions_gbp,
        coalesce(funding.block_transfer_gbp, 0) as block_transfer_gbp,
        coalesce(funding.la_contribution_gbp, 0) as la_contribution_gbp,
        coalesce(funding.other_income_gbp, 0) as other_income_gbp,
        funding.balance_brought_forward_gbp,
        spend.spend_gbp,
        spend.is_complete_year,
        coalesce(funding.has_allocation, false) as has_budget
    from spend
    left join funding on funding.la_code = spend.la_code and funding.financial_year = spend.financial_year
),

positions as (
    select
        years.*,
        hnb_allocation_gbp - place_deductions_gbp + block_transfer_gbp + la_contribution_gbp
            + other_income_gbp as funding_gbp
    from years
),

ledger_span as (
    select
        la_code,
        min(financial_year) as first_year,
        max(financial_year) as last_year,
        max(financial_year) filter (where is_complete_year) as last_complete_year,
        -- where the balance can first run from: the first complete year (a ledger that starts
        -- part-way through a year has that year's whole funding against part of its spend, so
        -- nothing carried through it is known)
        coalesce(min(financial_year) filter (where is_complete_year), min(financial_year))
            as chain_start_year
    from positions
    group by la_code
),

-- the year whose balance brought forward anchors the cumulative balance: the earliest one the
-- budget gives it for among the ledger's years from its first complete one and the year after
-- its last when that last is complete (its balance brought forward is the ledger's close: a
-- council often has that one figure), else the ledger's first complete year (opening at zero).
-- One for a later year is a projection; one for a year the ledger starts part-way through
-- cannot carry through it (the balance_brought_forward_anchors gate refuses it alone).
anchors as (
    select
        ledger_span.la_code,
        coalesce(min(funding.financial_year), min(ledger_span.chain_start_year)) as anchor_year
    from ledger_span
    left join funding
        on funding.la_code = ledger_span.la_code
        and funding.balance_brought_forward_gbp is not null
        and funding.financial_year >= ledger_span.chain_start_year
        and (
            funding.financial_year <= ledger_span.last_year
            or (
                ledger_span.last_complete_year = ledger_span.last_year
                and cast(left(funding.financial_year, 4) as integer)
                    = cast(left(ledger_span.last_year, 4) as integer) + 1
            )
        )
    group by ledger_span.la_code
),

-- the running sum's starting point: the anchor year's balance brought forward, less the in-year
-- balances of the years before it (a ledger that starts before the budget: that balance already
-- holds them, so the years before close on it rather than the cumulative balance forgetting it)
opening as (
    select
        anchors.la_code,
        coalesce(max(funding.balance_brought_forward_gbp), 0)
        - coalesce(max(before.in_year_gbp), 0) as opening_balance_gbp
    from anchors
    left join funding
        on funding.la_code = anchors.la_code and funding.financial_year = anchors.anchor_year
    left join (
        select positions.la_code, sum(positions.funding_gbp - positions.spend_gbp) as in_year_gbp
        from positions
        inner join anchors on anchors.la_code = positions.la_code
        where positions.financial_year < anchors.anchor_year
        group by positions.la_code
    ) as before on before.la_code = anchors.la_code
    group by anchors.la_code
),

-- a year before the anchor closes on it less the in-year balances between: known only when
-- every year between has a budget (one without has unknown funding, not £0, so the closes
-- before it are unknown too)
unknown_before as (
    select positions.la_code, max(positions.financial_year) as last_unbudgeted_year
    from positions
    inner join anchors on anchors.la_code = positions.la_code
    where positions.financial_year < anchors.anchor_year and not positions.has_budget
    group by positions.la_code
)

select
    cast(positions.la_code as string) as la_code,
    cast(financial_year as string) as financial_year,
    -- unknown, not £0, in a year the budget file gives no allocation for
    cast(case when has_budget then funding_gbp end as decimal(18, 2)) as funding_gbp,
    cast(spend_gbp as decimal(18, 2)) as spend_gbp,
    -- a year not complete has no balance yet: a year's funding against part of its spend (a
    -- mid-year refresh, or April's reversal of March's accruals) is no surplus; nor has a year
    -- the budget file gives no allocation for (before the anchor): its funding is unknown, not 0
    cast(case when is_complete_year and has_budget then funding_gbp - spend_gbp end as decimal(18, 2))
        as in_year_balance_gbp,
    cast(case when is_complete_year
        and (unknown_before.last_unbudgeted_year is null
            or positions.financial_year >= unknown_before.last_unbudgeted_year)
        then opening.opening_balance_gbp + sum(funding_gbp - spend_gbp) over (
            partition by positions.la_code order by positions.financial_year
        ) end
        as decimal(18, 2)) as cumulative_balance_gbp,
    -- funding's parts: unknown, as funding is, in a year the budget file gives no allocation
    -- for (they read £0.00, and funding rebuilt from them £0)
    cast(case when has_budget then hnb_allocation_gbp end as decimal(18, 2)) as hnb_allocation_gbp,
    cast(case when has_budget then place_deductions_gbp end as decimal(18, 2)) as place_deductions_gbp,
    cast(case when has_budget then block_transfer_gbp end as decimal(18, 2)) as block_transfer_gbp,
    cast(case when has_budget then la_contribution_gbp end as decimal(18, 2)) as la_contribution_gbp,
    cast(case when has_budget then other_income_gbp end as decimal(18, 2)) as other_income_gbp,
    cast(balance_brought_forward_gbp as decimal(18, 2)) as balance_brought_forward_gbp,
    cast(has_budget as boolean) as has_budget,
    cast(is_complete_year as boolean) as is_complete_year
from positions
inner join opening on opening.la_code = positions.la_code
left join unknown_before on unknown_before.la_code = positions.la_code
order by positions.la_code, positions.financial_year
