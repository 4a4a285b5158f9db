-- The child's placement on the posting date, for the high needs payments where it decides the
-- provision type: they name a child but no known placement (nor a provider the child has a
-- placement at: int_spend_provider_placements). One row per council, child and posting date:
-- the placement open that day (started on or before it, not ended before it); of two open, the
-- main one (SEN2 rank 1), else the later started, as the census counts them; with none open, the
-- one that ended last before it (a payment in arrears), else the first to start after it (paid
-- ahead); none when the child has no placement at all.
-- Its own table so that the ledger's allocation (int_spend_allocated) streams through hash joins
-- on small tables: computed inside that query, the sort pushed the ledger's joins out of memory
-- (61 million rows spilled to disk at England size).
with placements as (
    select * from {{ ref('int_placements_classified') }}
),

lookups as (
    select distinct transactions.la_code, transactions.child_id, transactions.posting_date
    {{ payments_naming_a_child_without_a_placement('placements') }}
),

-- the child's placements, in the order that says which the payment is for: those open on the
-- posting date first, in the census's order (a long placement still open beside a short one that
-- has ended: the open one, not none); else the one that ended last before it (paid in arrears);
-- else the one that starts first after it (paid ahead)
child_placement as (
    select
        lookups.la_code, lookups.child_id, lookups.posting_date, placements.provision_type,
        {{ placement_open_on('placements', 'lookups.posting_date') }} as is_in_force_on_posting_date
    from lookups
    left join placements
        on placements.la_code = lookups.la_code
        and placements.child_id = lookups.child_id
    qualify row_number() over (
        partition by lookups.la_code, lookups.child_id, lookups.posting_date
        order by {{ placement_paid_on_order('placements', 'lookups.posting_date') }}
    ) = 1
)

select * from child_placement
