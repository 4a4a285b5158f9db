-- High needs spend per financial year, Section 251 line and provision type: the expenditure
-- table of the DSG management plan. The same transactions as fct_provision_spend, cut by S251
-- line too, so per year and provision type the two agree to the penny.
with spend as (
    select * from {{ ref('int_spend_allocated') }} where is_high_needs
),

lines as (
    select * from {{ ref('s251_lines') }}
)

select
    cast(spend.la_code as string) as la_code,
    cast(spend.financial_year as string) as financial_year,
    cast(spend.s251_line as string) as s251_line,
    cast(coalesce(lines.description, 'Not in the reviewed S251 line list') as string) as s251_description,
    cast(spend.provision_type as string) as provision_type,
    cast(sum(spend.amount_gbp) as decimal(18, 2)) as spend_gbp,
    cast(count(*) as bigint) as transactions
from spend
left join lines on lines.s251_line = spend.s251_line
group by all
