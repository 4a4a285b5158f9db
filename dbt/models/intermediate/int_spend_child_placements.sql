-- The child's placement on the posting date, for the high needs payments where it decides the
-- provision type: they name a child but no known placement. One row per council, child and
-- posting date.
-- Its own table so that the ledger's allocation (int_spend_allocated) streams through hash joins
-- on small tables: computed inside that query, the sort of the as-of join pushed the ledger's
-- joins out of memory (61 million rows spilled to disk at England size).
with placements as (
    select * from {{ ref('int_placements_classified') }}
),

lookups as (
    select distinct transactions.la_code, transactions.child_id, transactions.posting_date
    from {{ ref('stg_finance__transactions') }} as transactions
    left join {{ ref('s251_lines') }} as lines on lines.s251_line = transactions.s251_line
    left join placements as named_placement
        on named_placement.la_code = transactions.la_code
        and named_placement.placement_id = transactions.placement_id
    where transactions.child_id is not null
        and transactions.posting_date is not null
        and named_placement.provision_type is null
        and {{ is_high_needs('lines.is_high_needs', 'transactions.s251_line') }}
),

-- the child's placement that opened last on or before the posting date
child_placement as (
    {{ asof_join(
        columns=['lookups.la_code', 'lookups.child_id', 'lookups.posting_date', 'placements.provision_type', 'placements.end_date'],
        left='lookups', right='placements', equal=[['la_code', 'la_code'], ['child_id', 'child_id']],
        left_time='posting_date', op='>=', right_time='start_date',
        left_key=['la_code', 'child_id', 'posting_date'], tie_break=['placement_id'], kind='left',
    ) }}
)

select
    la_code,
    child_id,
    posting_date,
    -- none when that placement had ended by the posting date
    case when end_date is null or end_date >= posting_date then provision_type end as provision_type
from child_placement
