-- Rows that loaded but deserve a data engineer's look: kept in the marts, counted in
-- fct_data_quality. A placement or payment for a child or placement no extract of its council
-- knows, a payment on a Section 251 line the seed does not list, a payment counted in a
-- provision type's spend for a child more than a term from any plan of theirs, a payment for a
-- child at a provider the placements extract does not place them at (of another type, or one
-- not found, counted at the child's placement), a place or top-up payment
-- nothing types (counted central), spells of one
-- child that overlap, plans of one child that overlap (the caseload counts the child once),
-- placements whose establishment type is unknown, and plans live on a census day past the
-- academic year in which the young person turned 25. When only new finance files have arrived,
-- just their transactions' finance flags are added, replacing those of any earlier version; the
-- other extracts' flags are made again whole (macros/ledger_increment.sql).
{{ ledger_flags_config() }}

{%- set after_file_seq = ledger_after_file_seq() %}

with plans as (
    select * from {{ ref('stg_ehcp__plans') }}
),

placements as (
    select * from {{ ref('int_placements_classified') }}
),

-- read twice below; each read scans only the columns it needs rather than sharing a written-out
-- copy of the whole ledger
transactions {{ cte_as_not_materialized() }} (
    select * from {{ ref('stg_finance__transactions') }}
    {%- if after_file_seq is not none %}
    where source_file_hash in ({{ ledger_new_files(after_file_seq) }})
    {%- endif %}
),

-- the ledger's payments allocated to a provision type (not central) for a child: the one they
-- name, else their placement's (the contract's child_id is optional: a ledger naming placements
-- alone had none of its payments looked at)
allocated as (
    select allocated.la_code, allocated.source_file, allocated.source_row,
        allocated.source_file_hash, allocated.transaction_id, allocated.posting_date,
        allocated.allocation_method, coalesce(allocated.child_id, named.child_id) as child_id
    from {{ ref('int_spend_allocated') }} as allocated
    left join placements as named
        on named.la_code = allocated.la_code and named.placement_id = allocated.placement_id
    where allocated.provision_type <> 'central'
        and coalesce(allocated.child_id, named.child_id) is not null
    {%- if after_file_seq is not none %}
        and allocated.source_file_hash in ({{ ledger_new_files(after_file_seq) }})
    {%- endif %}
),

-- the ledger's payments on the place and top-up lines (allocate_by_provider), allocated
placement_funding as (
    select allocated.*
    from {{ ref('int_spend_allocated') }} as allocated
    inner join {{ ref('s251_lines') }} as lines
        on lines.s251_line = allocated.s251_line and lines.allocate_by_provider
    {%- if after_file_seq is not none %}
    where allocated.source_file_hash in ({{ ledger_new_files(after_file_seq) }})
    {%- endif %}
),

flags as (
    select transactions.la_code, 'finance' as extract, source_file, source_row, source_file_hash,
        transaction_id as record_key, 'payment_for_unknown_placement' as flag
    from transactions
    where placement_id is not null and not exists (
        select 1 from placements
        where placements.la_code = transactions.la_code and placements.placement_id = transactions.placement_id
    )

    union all
    select la_code, 'finance', source_file, source_row, source_file_hash, transaction_id, 'payment_for_unknown_child'
    from transactions
    where child_id is not null and not exists (
        select 1 from plans where plans.la_code = transactions.la_code and plans.child_id = transactions.child_id
    )

    -- a line the reviewed seed does not list: high needs only if it is a 1.2.x line, else left
    -- out of high needs spend (a mistyped `1.02` reads 1.2) with nothing else to show for it.
    -- Lines 2.x are outside the schools budget (SEN transport is 2.1.x): known, not high needs
    union all
    select la_code, 'finance', source_file, source_row, source_file_hash, transaction_id,
        'unknown_s251_line'
    from transactions
    where not exists (
        select 1 from {{ ref('s251_lines') }} as lines where lines.s251_line = transactions.s251_line
    )
        and transactions.s251_line not like '2.%'

    -- a payment counted in a provision type's spend for a child the plans extract knows, posted
    -- more than a term (92 days) from every plan of the child: a top-up paid ahead of a plan, or
    -- long after it ceased. The child's days then count no place (int_placement_days_by_year),
    -- so the type's unit cost reads high by it
    union all
    select la_code, 'finance', source_file, source_row, source_file_hash, transaction_id,
        'payment_outside_plan'
    from allocated
    where exists (
        select 1 from plans where plans.la_code = allocated.la_code and plans.child_id = allocated.child_id
    )
        and not exists (
            select 1 from plans
            where plans.la_code = allocated.la_code
                and plans.child_id = allocated.child_id
                and plans.plan_start_date <= allocated.posting_date + 92
                and coalesce(plans.plan_cease_date, date '9999-12-31') >= allocated.posting_date - 92
        )

    -- a child's payment on a placement-funding line to a provider the placements extract has
    -- no placement of theirs at, while it places them in another type of provision that day:
    -- counted at the provider's type (the money went there), the child's days at the other's.
    -- The extract may be missing a placement (a top-up paid to an independent special school for
    -- a child held only in a mainstream academy), or the ledger name the school by an id or a
    -- name neither the placement nor the GIAS extract gives it (the child's placement there is
    -- then not found: a rank-2 unit place's top-ups count as mainstream)
    union all
    select la_code, 'finance', source_file, source_row, source_file_hash, transaction_id,
        'payment_at_provider_not_placed'
    from allocated
    where allocation_method in ('provider_type', 'provider_gias_type', 'provider_name_type')
        and exists (
            select 1 from {{ ref('int_spend_child_placements') }} as elsewhere
            where elsewhere.la_code = allocated.la_code
                and elsewhere.child_id = allocated.child_id
                and elsewhere.posting_date = allocated.posting_date
                and elsewhere.is_in_force_on_posting_date
        )

    -- a payment on a place or top-up line (allocate_by_provider) that nothing typed: no placement
    -- of a child, and a provider (by URN, UKPRN or name, or none named) that no placement, GIAS
    -- row or name of one type types. It counts as central, and the type it paid for reads low
    -- by it: a school's place funding had left its type unflagged (a GIAS extract holding the
    -- school, or the provider's URN on the payment, types it)
    union all
    select la_code, 'finance', source_file, source_row, source_file_hash, transaction_id,
        'payment_to_untyped_provider'
    from placement_funding
    where provision_type = 'central'

    -- a child's payment on a place or top-up line naming a provider (URN, UKPRN or name) at which
    -- no placement of the child is found, counted at the child's placement that day, which names
    -- its school: the money may have gone elsewhere ("Fernley School (Governors)", a name
    -- neither the placement nor GIAS gives: a unit's top-up counted at the child's special
    -- school; a nursery's late invoice counted at the child's new school), or the extract lack
    -- a placement. Not where the child's placements that day name no school (an early years or
    -- EOTAS setting): nothing to match the provider with
    union all
    select allocated.la_code, 'finance', allocated.source_file, allocated.source_row,
        allocated.source_file_hash, allocated.transaction_id, 'payment_at_provider_not_found'
    from placement_funding as allocated
    inner join transactions
        on transactions.la_code = allocated.la_code
        and transactions.transaction_id = allocated.transaction_id
    where allocated.allocation_method = 'child_placement_on_posting_date'
        and (
            allocated.provider_urn is not null
            or allocated.provider_ukprn is not null
            or {{ name_key('transactions.supplier_name') }} is not null
        )
        and exists (
            select 1 from placements
            where placements.la_code = allocated.la_code
                and placements.child_id = allocated.child_id
                and {{ placement_open_on('placements', 'allocated.posting_date') }}
                and (
                    placements.urn is not null
                    or placements.ukprn is not null
                    or {{ name_key('placements.establishment_name') }} is not null
                )
        )

    union all
    select la_code, 'placements', source_file, source_row, source_file_hash, placement_id,
        'placement_for_unknown_child'
    from placements
    where not exists (
        select 1 from plans where plans.la_code = placements.la_code and plans.child_id = placements.child_id
    )

    union all
    select later.la_code, 'placements', later.source_file, later.source_row, later.source_file_hash,
        later.placement_id, 'overlapping_placement'
    from placements as later
    where exists (
        select 1 from placements as earlier
        where earlier.la_code = later.la_code
            and earlier.child_id = later.child_id
            and earlier.placement_id <> later.placement_id
            and (earlier.start_date, earlier.placement_id) < (later.start_date, later.placement_id)
            -- a placement starting on the day the last one ended is a handover, the new one in
            -- force that day (as the census's as-of joins take it), as a plan reissued the day
            -- the last one ceased is no overlapping_plan
            and coalesce(earlier.end_date, date '9999-12-31') > later.start_date
            -- two settings at once the extract ranks (SEN2 PlacementRank 1 and 2; one left
            -- blank beside a rank 2 is the main one, rank 1) are a dual placement it declares,
            -- not an error: they had been counted among the overlaps
            and coalesce(earlier.placement_rank, 1) = coalesce(later.placement_rank, 1)
    )

    union all
    select later.la_code, 'ehcp', later.source_file, later.source_row, later.source_file_hash,
        later.plan_id, 'overlapping_plan'
    from plans as later
    where exists (
        select 1 from plans as earlier
        where earlier.la_code = later.la_code
            and earlier.child_id = later.child_id
            and earlier.plan_id <> later.plan_id
            and (earlier.plan_start_date, earlier.plan_id) < (later.plan_start_date, later.plan_id)
            and coalesce(earlier.plan_cease_date, date '9999-12-31') > later.plan_start_date
    )

    -- open (or ending) after the child's last plan ceased, every plan of the child ceased: its
    -- days after that count no place (int_placement_days_by_year); the case system may have left
    -- it open, or a plan is missing
    union all
    select placements.la_code, 'placements', placements.source_file, placements.source_row,
        placements.source_file_hash, placements.placement_id, 'placement_open_after_plan_ceased'
    from placements
    inner join {{ children_with_every_plan_ceased('plans') }} as plans_ceased
        on plans_ceased.la_code = placements.la_code
        and plans_ceased.child_id = placements.child_id
    where {{ open_after_plan_ceased('placements', 'plans_ceased.ceased_on') }}

    -- a placement's type not given by the extract: unknown (its child counts as in no
    -- placement); lent by the council's other placements at the same URN or UKPRN; or, for a
    -- provider named by UKPRN alone that nothing types, taken as an FE college (a specialist
    -- post-16 institution's fees and child would count as FE): each is shown
    union all
    select la_code, 'placements', source_file, source_row, source_file_hash, placement_id,
        case classified_by
            when 'unclassified' then 'establishment_type_unknown'
            when 'other_placements_type' then 'establishment_type_borrowed'
            else 'provider_type_assumed_fe'
        end
    from placements
    where classified_by in ('unclassified', 'other_placements_type', 'ukprn_without_type')

    -- the placement's own type code and the GIAS extract's for its URN give different provision
    -- types: the placement's is used (it may be the school's type while the child was there), the
    -- other would move the child, its days and its spend to another type (a community special
    -- school typed independent special in the case system moved 93 plans and £3.3m of 2025-26's
    -- spend from mss to inmss, with nothing said)
    union all
    select given.la_code, 'placements', given.source_file, given.source_row,
        given.source_file_hash, given.placement_id, 'establishment_type_differs_from_gias'
    from {{ ref('stg_placements__spells') }} as given
    inner join {{ ref('gias_establishment_types') }} as given_types
        on given_types.establishment_type_code = given.establishment_type_code
    inner join {{ ref('stg_reference__establishments') }} as gias
        on gias.la_code = given.la_code and gias.urn = given.urn
    inner join {{ ref('gias_establishment_types') }} as gias_types
        on gias_types.establishment_type_code = gias.establishment_type_code
    where given_types.provision_type <> gias_types.provision_type

    -- a reason the plan ceased with no day it ceased: counted as live on every census since
    -- (a child moved to another council, reason 5, counted on for ever), or a day lost in export
    union all
    select la_code, 'ehcp', source_file, source_row, source_file_hash, plan_id,
        'cease_reason_without_cease_date'
    from plans
    where cease_reason is not null and plan_cease_date is null

    -- a plan ends at the latest with the academic year in which the young person turns 25: one
    -- live on a census day past it (a curriculum age of 25 or more: 25 on the 31 August before
    -- the census's academic year, so 25 was turned in an earlier one) has lost its cease date,
    -- or its date of birth is wrong
    union all
    select la_code, 'ehcp', source_file, source_row, source_file_hash, plan_id, 'plan_live_past_25'
    from plans
    where exists (
        select 1 from {{ ref('int_ehcp_census_snapshots') }} as snapshots
        where snapshots.la_code = plans.la_code
            and snapshots.plan_id = plans.plan_id
            and snapshots.age >= 25
    )
)

select * from flags
