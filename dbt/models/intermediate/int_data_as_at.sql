-- The period each council's extracts cover: from the first dated record of spend (or, with no
-- finance extract, of placements or plans) to the latest date in any of its extracts. Census
-- snapshots, placement days and financial years are only built inside it. The ledger's own first
-- and last postings say where the spend starts and how far it reaches (extracts taken on
-- different days: a plan starting in April does not make a ledger that stops in February whole),
-- and whether its last month is as whole as its others (a ledger cut on 2 March is not one whose
-- March payments run on the 2nd). One row per council.
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
),

-- how many days before its month's end each month's last posting falls
ledger_months as (
    select la_code, year(posting_date) * 100 + month(posting_date) as month_key,
        day(last_day(max(posting_date))) - day(max(posting_date)) as days_short
    from {{ ref('stg_finance__transactions') }}
    group by la_code, year(posting_date) * 100 + month(posting_date)
),

ledger_last_month as (
    select ledger_months.la_code,
        max(days_short) filter (where ledger_months.month_key = last_month.month_key) as last_month_days_short,
        median(days_short) filter (where ledger_months.month_key < last_month.month_key) as usual_days_short
    from ledger_months
    inner join (
        select la_code, max(month_key) as month_key from ledger_months group by la_code
    ) as last_month on last_month.la_code = ledger_months.la_code
    group by ledger_months.la_code
),

councils as (
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
)

select
    councils.*,
    -- the last month reaches as near its end as the ledger's months usually do (three days'
    -- grace): its postings are the month's, not the first days of an extract taken mid-month
    ledger_last_month.last_month_days_short
        <= coalesce(ledger_last_month.usual_days_short, 0) + 3 as ledger_last_month_whole
from councils
left join ledger_last_month on ledger_last_month.la_code = councils.la_code
