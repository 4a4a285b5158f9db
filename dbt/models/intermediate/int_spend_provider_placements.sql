-- The child's placement at the provider paid, for the high needs payments where it decides the
-- provision type: they name a child and a provider (URN or UKPRN) but no known placement. A
-- ledger without placement ids pays a month in arrears or a term ahead: on the posting date the
-- child may already be at the next school or college (or out of education), and the payment is
-- for the placement at the provider it names. One row per council, child, posting date and
-- provider: of the child's placements at that provider, the one in force on the posting date
-- (in the census's order), else the one that ended last before it (paid in arrears), else the
-- one that starts first after it (paid ahead); none when the child has no placement there.
with placements as (
    select * from {{ ref('int_placements_classified') }}
),

lookups as (
    select distinct
        transactions.la_code, transactions.child_id, transactions.posting_date,
        transactions.provider_urn, transactions.provider_ukprn
    {{ payments_naming_a_child_without_a_placement('placements') }}
        and (transactions.provider_urn is not null or transactions.provider_ukprn is not null)
),

at_provider as (
    select
        lookups.la_code, lookups.child_id, lookups.posting_date,
        lookups.provider_urn, lookups.provider_ukprn, placements.provision_type
    from lookups
    inner join placements
        on placements.la_code = lookups.la_code
        and placements.child_id = lookups.child_id
        and (placements.urn = lookups.provider_urn or placements.ukprn = lookups.provider_ukprn)
    qualify row_number() over (
        partition by lookups.la_code, lookups.child_id, lookups.posting_date,
            lookups.provider_urn, lookups.provider_ukprn
        order by {{ placement_paid_on_order('placements', 'lookups.posting_date') }}
    ) = 1
)

select * from at_provider
