-- Every ledger transaction with whether it is high needs block spend and, if so, the provision
-- type it pays for. In order: the placement named on the transaction; the child's placement on
-- the posting date; for placement-funding lines (place funding, top-ups, targeted mainstream)
-- the type of the provider paid; otherwise 'central' (spend tied to no placement).
with transactions as (
    -- only the columns the allocation and the audit trail need: supplier names and descriptions
    -- stay in staging, not carried through the joins below
    select
        transaction_id, posting_date, financial_year, amount_gbp, s251_line, child_id, placement_id,
        provider_urn, provider_ukprn, source_file_hash, source_file, source_row, load_id
    from {{ ref('stg_finance__transactions') }}
),

lines as (
    select * from {{ ref('s251_lines') }}
),

placements as (
    select * from {{ ref('int_placements_classified') }}
),

-- the provision type most placements at a school or provider have, ignoring unit / resourced
-- provision flags (those belong to the child's place, not the school)
provider_types as (
    select provider_id, provider_kind, establishment_provision_type
    from (
        select
            coalesce(urn, ukprn) as provider_id,
            case when urn is not null then 'urn' else 'ukprn' end as provider_kind,
            case when provision_type = 'mainstream_rp_unit' then 'mainstream' else provision_type end
                as establishment_provision_type,
            count(*) as placements
        from placements
        where coalesce(urn, ukprn) is not null
        group by all
    )
    qualify row_number() over (
        partition by provider_id, provider_kind order by placements desc, establishment_provision_type
    ) = 1
),

flagged as (
    select
        transactions.*,
        coalesce(lines.is_high_needs, transactions.s251_line like '1.2.%') as is_high_needs,
        coalesce(lines.allocate_by_provider, false) as allocate_by_provider,
        lines.s251_line is null as is_unknown_s251_line
    from transactions
    left join lines on lines.s251_line = transactions.s251_line
),

with_named_placement as (
    select flagged.*, placements.provision_type as named_placement_provision_type
    from flagged
    left join placements on placements.placement_id = flagged.placement_id
),

-- the child's placement on the posting date is only looked for where it decides the provision
-- type: high needs payments that name a child but no known placement (the as-of join sorts what
-- it is given, and most payments name their placement)
needs_child_placement as (
    select *,
        coalesce(is_high_needs and named_placement_provision_type is null and child_id is not null, false)
            as _look_up_child
    from with_named_placement
),

with_child_placement as (
    select * exclude (_look_up_child), null::varchar as child_placement_provision_type
    from needs_child_placement
    where not _look_up_child

    union all by name

    select
        needs_child_placement.* exclude (_look_up_child),
        case
            when child_placement.end_date is null
                or child_placement.end_date >= needs_child_placement.posting_date
                then child_placement.provision_type
        end as child_placement_provision_type
    from needs_child_placement
    asof left join placements as child_placement
        on child_placement.child_id = needs_child_placement.child_id
        and needs_child_placement.posting_date >= child_placement.start_date
    where needs_child_placement._look_up_child
),

with_provider as (
    select
        with_child_placement.*,
        coalesce(by_urn.establishment_provision_type, by_ukprn.establishment_provision_type)
            as provider_provision_type
    from with_child_placement
    left join provider_types as by_urn
        on by_urn.provider_kind = 'urn' and by_urn.provider_id = with_child_placement.provider_urn
    left join provider_types as by_ukprn
        on by_ukprn.provider_kind = 'ukprn' and by_ukprn.provider_id = with_child_placement.provider_ukprn
)

select
    transaction_id,
    posting_date,
    financial_year,
    amount_gbp,
    s251_line,
    is_high_needs,
    is_unknown_s251_line,
    child_id,
    placement_id,
    provider_urn,
    provider_ukprn,
    case
        when not is_high_needs then null
        when named_placement_provision_type is not null then named_placement_provision_type
        when child_placement_provision_type is not null then child_placement_provision_type
        when allocate_by_provider and provider_provision_type is not null then
            -- place funding in a mainstream school only exists for its resourced provision or unit
            case when s251_line = '1.0.2' and provider_provision_type = 'mainstream'
                then 'mainstream_rp_unit' else provider_provision_type end
        else 'central'
    end as provision_type,
    case
        when not is_high_needs then 'not_high_needs'
        when named_placement_provision_type is not null then 'named_placement'
        when child_placement_provision_type is not null then 'child_placement_on_posting_date'
        when allocate_by_provider and provider_provision_type is not null then 'provider_type'
        else 'central'
    end as allocation_method,
    placement_id is not null and named_placement_provision_type is null as is_unknown_placement,
    source_file_hash,
    source_file,
    source_row,
    load_id
from with_provider
