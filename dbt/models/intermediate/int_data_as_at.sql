-- The period each council's extracts cover: from the first dated record of spend (or, with no
-- finance extract, of placements or plans) to the latest date in any of its extracts. Census
-- snapshots, placement days and financial years are only built inside it. The ledger's own first
-- and last postings say where the spend starts and how far it reaches (extracts taken on
-- different days: a plan starting in April does not make a ledger that stops in February whole).
-- One row per council.
with dates as (
    select la_code, 'finance' as extract, min(posting_date) as first_date, max(posting_date) as last_date
    from {{ ref('stg_finance__transactions') }}
    group by la_code
    union all
    select la_code, 'placements', min(start_date), greatest(max(start_date), max(end_date))
    from {{ ref('stg_placements__spells') }}
    group by la_code
    union all
    select la_code, 'ehcp', min(plan_start_date), greatest(max(plan_start_date), max(plan_cease_date))
    from {{ ref('stg_ehcp__plans') }}
    group by la_code
)

select
    la_code,
    coalesce(
        max(first_date) filter (where extract = 'finance'),
        max(first_date) filter (where extract = 'placements'),
        max(first_date) filter (where extract = 'ehcp')
    ) as history_start_date,
    max(last_date) as as_at_date,
    min(first_date) filter (where extract = 'finance') as ledger_first_posting_date,
    max(last_date) filter (where extract = 'finance') as ledger_last_posting_date
from dates
group by la_code
