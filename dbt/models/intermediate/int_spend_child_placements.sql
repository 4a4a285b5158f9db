-- The child's placement on the posting date, for the high needs payments where it decides the
-- provision type: they name a child but no known placement. One row per child and posting date.
-- Its own table so that the ledger's allocation (int_spend_allocated) streams through hash joins
-- on small tables: computed inside that query, the sort of the as-of join pushed the ledger's
-- joins out of memory (61 million rows spilled to disk at England size).
with lookups as (
    select distinct transactions.child_id, transactions.posting_date
    from {{ ref('stg_finance__transactions') }} as transactions
    left join {{ ref('s251_lines') }} as lines on lines.s251_line = transactions.s251_line
    left join {{ ref('int_placements_classified') }} as named_placement
        on named_placement.placement_id = transactions.placement_id
    where transactions.child_id is not null
        and transactions.posting_date is not null
        and named_placement.provision_type is null
        and {{ is_high_needs('lines.is_high_needs', 'transactions.s251_line') }}
)

select
    lookups.child_id,
    lookups.posting_date,
    case
        when child_placement.end_date is null or child_placement.end_date >= lookups.posting_date
            then child_placement.provision_type
    end as provision_type
from lookups
asof left join {{ ref('int_placements_classified') }} as child_placement
    on child_placement.child_id = lookups.child_id
    and lookups.posting_date >= child_placement.start_date
