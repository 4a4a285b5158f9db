-- The child's placement at the provider paid, for the high needs payments where it decides the
-- provision type: they name a child and a provider (URN, UKPRN, or the supplier's name where they
-- give neither) but no known placement. A ledger without placement ids pays a month in arrears or
-- a term ahead: on the posting date the child may already be at the next school or college (or
-- out of education), and the payment is for the placement at the provider it names. One row per
-- council, child, posting date and provider: of the child's placements at that provider, the one
-- in force on the posting date (in the census's order), else the one that ended last before it
-- (paid in arrears), else the one that starts first after it (paid ahead); none when the child
-- has no placement there.
-- A placement is at the provider paid when the payment names it by any id or name the placement
-- goes by: its own URN, UKPRN and establishment name, and those the GIAS extract pairs with them
-- (a SEN2 placement gives the school's URN; a finance system pays the school by its UKPRN or by
-- name). Matched by the ids as given alone, a child's rank-2 unit place paid by the school's name
-- was not found, and its top-ups counted as mainstream's (or as the rank-1 special school's type):
-- mainstream_rp_unit's spend 12-25 % low a year.
with placements as (
    select * from {{ ref('int_placements_classified') }}
),

establishments as (
    select la_code, urn, ukprn, {{ name_key('establishment_name') }} as name_key
    from {{ ref('stg_reference__establishments') }}
),

lookups as (
    select distinct
        transactions.la_code, transactions.child_id, transactions.posting_date,
        transactions.provider_urn, transactions.provider_ukprn,
        {{ supplier_key('transactions') }} as supplier_key
    {{ payments_naming_a_child_without_a_placement('placements') }}
        and (transactions.provider_urn is not null or transactions.provider_ukprn is not null
            or {{ supplier_key('transactions') }} is not null)
),

-- the ids and names a payment names its provider by: one row each
lookup_keys as (
    select *, 'urn' as key_kind, provider_urn as key_value from lookups where provider_urn is not null
    union all
    select *, 'ukprn', provider_ukprn from lookups where provider_ukprn is not null
    union all
    select *, 'name', supplier_key from lookups where supplier_key is not null
),

-- the ids and names each placement's establishment goes by: its own, then GIAS's for its URN
-- (or, for a placement named by UKPRN alone, for its UKPRN)
placement_establishments as (
    select placements.la_code, placements.child_id, placements.placement_id,
        establishments.urn, establishments.ukprn, establishments.name_key
    from placements
    inner join establishments
        on establishments.la_code = placements.la_code and establishments.urn = placements.urn
    union all
    select placements.la_code, placements.child_id, placements.placement_id,
        establishments.urn, establishments.ukprn, establishments.name_key
    from placements
    inner join establishments
        on establishments.la_code = placements.la_code and establishments.ukprn = placements.ukprn
    where placements.urn is null
    union all
    select la_code, child_id, placement_id, urn, ukprn, {{ name_key('establishment_name') }}
    from placements
),

placement_keys as (
    select distinct la_code, child_id, placement_id, key_kind, key_value
    from (
        select la_code, child_id, placement_id, 'urn' as key_kind, urn as key_value
        from placement_establishments where urn is not null
        union all
        select la_code, child_id, placement_id, 'ukprn', ukprn
        from placement_establishments where ukprn is not null
        union all
        select la_code, child_id, placement_id, 'name', name_key
        from placement_establishments where name_key is not null
    )
),

at_provider as (
    select
        lookups.la_code, lookups.child_id, lookups.posting_date,
        lookups.provider_urn, lookups.provider_ukprn, lookups.supplier_key, placements.provision_type
    from lookup_keys as lookups
    inner join placement_keys
        on placement_keys.la_code = lookups.la_code
        and placement_keys.child_id = lookups.child_id
        and placement_keys.key_kind = lookups.key_kind
        and placement_keys.key_value = lookups.key_value
    inner join placements
        on placements.la_code = placement_keys.la_code
        and placements.placement_id = placement_keys.placement_id
    qualify row_number() over (
        partition by lookups.la_code, lookups.child_id, lookups.posting_date,
            lookups.provider_urn, lookups.provider_ukprn, lookups.supplier_key
        order by {{ placement_paid_on_order('placements', 'lookups.posting_date') }}
    ) = 1
)

select * from at_provider
