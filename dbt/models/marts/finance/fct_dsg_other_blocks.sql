-- The other blocks of the dedicated schools grant (schools, central school services, early
-- years) per financial year, from the budget file's optional lines: the DSG management plan's
-- summary shows them beside the high needs block, so the plan covers the whole DSG. Only the
-- years and blocks the budget file gives appear; the high needs block is fct_hnb_position.
with budget as (
    select * from {{ ref('stg_budget__lines') }}
    where line in (
        'schools_block_funding', 'schools_block_spend',
        'central_block_funding', 'central_block_spend',
        'early_years_block_funding', 'early_years_block_spend'
    )
),

blocks as (
    select
        la_code,
        financial_year,
        case
            when line like 'schools_block_%' then 'schools'
            when line like 'central_block_%' then 'central'
            else 'early_years'
        end as block,
        sum(amount_gbp) filter (where line like '%_funding') as funding_gbp,
        sum(amount_gbp) filter (where line like '%_spend') as spend_gbp
    from budget
    group by 1, 2, 3
)

select
    cast(la_code as string) as la_code,
    cast(financial_year as string) as financial_year,
    cast(block as string) as block,
    cast(funding_gbp as decimal(18, 2)) as funding_gbp,
    cast(spend_gbp as decimal(18, 2)) as spend_gbp,
    cast(funding_gbp - spend_gbp as decimal(18, 2)) as in_year_balance_gbp
from blocks
order by la_code, financial_year, block
