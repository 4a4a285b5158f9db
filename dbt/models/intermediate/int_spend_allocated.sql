-- Every ledger transaction with whether it is high needs block spend and, if so, the provision
-- type it pays for. In order: the placement named on the transaction; the child's placement at
-- the provider paid, by its URN, UKPRN or name, or those GIAS pairs with them (in force on the
-- posting date, else the one paid in arrears or ahead: int_spend_provider_placements); not on
-- the lines of services paid for a child (direct payments, therapies, SEN support: central
-- unless they name a placement, they moved mainstream's unit cost 4 % when they followed the
-- child); for placement-funding lines (place funding, top-ups, targeted mainstream) the type of
-- the provider paid, from the council's placements there or else from its GIAS establishment
-- type (a school paid place funding that none of the council's children attend), by URN or
-- UKPRN, else by the supplier's name where the payment gives neither, where it is another type
-- than the child's placement on the posting date (a top-up paid to an independent special
-- school for a child the placements extract held only in a mainstream academy had counted as
-- mainstream's: its unit cost +4.8 % and £2.1m on the forecast from £300k paid once; the money
-- went where it was paid, and int_data_quality_flags flags the child's missing placement); else
-- the child's placement on the posting date (a school's type is its placements' usual one, unit
-- and resourced places as mainstream: a ledger naming the school by name or by another id than
-- the placement's moved a unit's top-ups, £0.97m a year, to mainstream before this);
-- then the child's placement that ended last before the posting date, else
-- the first to start after it (paid in arrears or ahead); otherwise 'central' (spend tied to no
-- placement). Built incrementally when only new finance
-- files have arrived: their transactions are allocated and replace any earlier version
-- (macros/ledger_increment.sql).
{{ ledger_config() }}

{%- set after_file_seq = ledger_after_file_seq() %}

with transactions as (
    -- only the columns the allocation and the audit trail need: supplier names and descriptions
    -- stay in staging, not carried through the joins below
    select
        la_code, transaction_id, posting_date, financial_year, amount_gbp, s251_line, child_id, placement_id,
        provider_urn, provider_ukprn, source_file_hash, source_file, source_row, load_id,
        -- a payment naming its provider by name alone: the name, to find the provider's type by
        {{ supplier_key('transactions') }} as supplier_key
    from {{ ref('stg_finance__transactions') }} as transactions
    {%- if after_file_seq is not none %}
    where source_file_hash in ({{ ledger_new_files(after_file_seq) }})
    {%- endif %}
),

lines as (
    select * from {{ ref('s251_lines') }}
),

-- each reader scans the table for the columns it needs: a shared (materialised) copy made the
-- ledger's join on placement id several times slower
placements {{ cte_as_not_materialized() }} (
    select * from {{ ref('int_placements_classified') }}
),

-- the provision type most placements at a school or provider have, ignoring unit / resourced
-- provision flags (those belong to the child's place, not the school); by URN and by UKPRN, each
-- a placement carries (a college's placement may give both, and the ledger pay it by either).
-- A placement nothing typed (unclassified: 'none') types no provider: an academy missing from
-- an older GIAS extract had its place funding, £0.98m a year, counted as 'none' (children in
-- no placement), the GIAS and name fallbacks never tried
provider_ids as (
    select la_code, urn as provider_id, 'urn' as provider_kind, provision_type
    from placements where urn is not null and classified_by is distinct from 'unclassified'
    union all
    select la_code, ukprn, 'ukprn', provision_type
    from placements where ukprn is not null and classified_by is distinct from 'unclassified'
),

provider_types as (
    select la_code, provider_id, provider_kind, establishment_provision_type
    from (
        select
            la_code,
            provider_id,
            provider_kind,
            case when provision_type = 'mainstream_rp_unit' then 'mainstream' else provision_type end
                as establishment_provision_type,
            count(*) as placements
        from provider_ids
        group by all
    )
    qualify row_number() over (
        partition by la_code, provider_id, provider_kind order by placements desc, establishment_provision_type
    ) = 1
),

-- the provision type of each establishment in the GIAS extract, for providers paid that no
-- placement names; by UKPRN only where the UKPRN names one establishment type
gias_types as (
    select establishments.la_code, establishments.urn, establishments.ukprn, establishment_types.provision_type
    from {{ ref('stg_reference__establishments') }} as establishments
    inner join {{ ref('gias_establishment_types') }} as establishment_types
        on establishment_types.establishment_type_code = establishments.establishment_type_code
),

gias_types_by_ukprn as (
    select la_code, ukprn, min(provision_type) as provision_type
    from gias_types
    where ukprn is not null
    group by la_code, ukprn
    having count(distinct provision_type) = 1
),

-- the provision type of a provider paid by name alone: the type of the council's placements at
-- the establishments of that name (each establishment's usual type, as provider_types: unit and
-- resourced places as mainstream), where they are of one type, else the GIAS type of the
-- establishments of that name, where they are of one type. A name two establishments of
-- different types share ("St Mary's School") types nothing (central, flagged
-- payment_to_untyped_provider) but on days when the council's placements at it are at one of
-- them (provider_types_by_name_on_day). Without it, place funding
-- and top-ups paid to schools a ledger names only by supplier went to central, and each school
-- type's unit cost lost them
-- each establishment of a name and its usual type among the council's placements there
name_establishments as (
    select la_code, supplier_key, establishment, establishment_provision_type
    from (
        select
            la_code,
            {{ name_key('establishment_name') }} as supplier_key,
            coalesce(urn, ukprn, placement_id) as establishment,
            case when provision_type = 'mainstream_rp_unit' then 'mainstream' else provision_type end
                as establishment_provision_type,
            count(*) as placements
        from placements
        where {{ name_key('establishment_name') }} is not null and classified_by is distinct from 'unclassified'
        group by all
    )
    qualify row_number() over (
        partition by la_code, supplier_key, establishment
        order by placements desc, establishment_provision_type
    ) = 1
),

provider_types_by_name as (
    select la_code, supplier_key, min(establishment_provision_type) as establishment_provision_type
    from name_establishments
    group by la_code, supplier_key
    having count(distinct establishment_provision_type) = 1
),

-- a name establishments of different types share, paid when the council's placements at that
-- name (within a term either side of the day paid) are at establishments of one type: that
-- type. A special school's place funding, paid by name since 2017, had gone to central for
-- every year once a mainstream school of the same name took one child into its unit in 2023
-- (maintained special's unit cost 6-8 % low every year, green)
ambiguous_names as (
    select la_code, supplier_key
    from name_establishments
    group by la_code, supplier_key
    having count(distinct establishment_provision_type) > 1
),

provider_types_by_name_on_day as (
    select days.la_code, days.supplier_key, days.posting_date,
        min(name_establishments.establishment_provision_type) as establishment_provision_type
    from (
        select distinct transactions.la_code, transactions.supplier_key, transactions.posting_date
        from transactions
        inner join ambiguous_names
            on ambiguous_names.la_code = transactions.la_code
            and ambiguous_names.supplier_key = transactions.supplier_key
        where transactions.posting_date is not null
    ) as days
    inner join placements
        on placements.la_code = days.la_code
        and {{ name_key('placements.establishment_name') }} = days.supplier_key
        and placements.classified_by is distinct from 'unclassified'
        and placements.start_date <= days.posting_date + 92
        and coalesce(placements.end_date, date '9999-12-31') >= days.posting_date - 92
    inner join name_establishments
        on name_establishments.la_code = days.la_code
        and name_establishments.supplier_key = days.supplier_key
        and name_establishments.establishment
            = coalesce(placements.urn, placements.ukprn, placements.placement_id)
    group by days.la_code, days.supplier_key, days.posting_date
    having count(distinct name_establishments.establishment_provision_type) = 1
),

gias_types_by_name as (
    select establishments.la_code, {{ name_key('establishments.establishment_name') }} as supplier_key,
        min(establishment_types.provision_type) as provision_type
    from {{ ref('stg_reference__establishments') }} as establishments
    inner join {{ ref('gias_establishment_types') }} as establishment_types
        on establishment_types.establishment_type_code = establishments.establishment_type_code
    where nullif(trim(establishments.establishment_name), '') is not null
    group by establishments.la_code, {{ name_key('establishments.establishment_name') }}
    having count(distinct establishment_types.provision_type) = 1
),

-- the line's flags and the placement named on the transaction
flagged as (
    select
        transactions.*,
        {{ is_high_needs('lines.is_high_needs', 'transactions.s251_line') }} as is_high_needs,
        coalesce(lines.allocate_by_provider, false) as allocate_by_provider,
        -- a service paid for a child (direct payments, therapies, SEN support …) is central
        -- unless it names a placement (an unlisted line follows the child, as before the seed)
        coalesce(lines.follows_child, true) as follows_child,
        -- lines 2.x are outside the schools budget (SEN transport is 2.1.x): known
        lines.s251_line is null and transactions.s251_line not like '2.%' as is_unknown_s251_line,
        named_placement.provision_type as named_placement_provision_type
    from transactions
    left join lines on lines.s251_line = transactions.s251_line
    left join placements as named_placement
        on named_placement.la_code = transactions.la_code
        and named_placement.placement_id = transactions.placement_id
),

child_placements as (
    select
        la_code, child_id, posting_date, provision_type as child_placement_provision_type,
        is_in_force_on_posting_date as child_placement_in_force
    from {{ ref('int_spend_child_placements') }}
),

provider_placements as (
    select
        la_code, child_id, posting_date, provider_urn, provider_ukprn, supplier_key,
        provision_type as provider_placement_provision_type
    from {{ ref('int_spend_provider_placements') }}
),

with_provider as (
    select
        flagged.*,
        -- read by the case below only where int_spend_provider_placements and
        -- int_spend_child_placements looked them up
        provider_placements.provider_placement_provision_type,
        child_placements.child_placement_provision_type,
        child_placements.child_placement_in_force,
        coalesce(by_urn.establishment_provision_type, by_ukprn.establishment_provision_type)
            as provider_provision_type,
        coalesce(gias_by_urn.provision_type, gias_by_ukprn.provision_type) as provider_gias_provision_type,
        coalesce(
            by_name.establishment_provision_type,
            by_name_on_day.establishment_provision_type,
            gias_by_name.provision_type
        ) as provider_name_provision_type
    from flagged
    left join provider_placements
        on provider_placements.la_code = flagged.la_code
        and provider_placements.child_id = flagged.child_id
        and provider_placements.posting_date = flagged.posting_date
        and provider_placements.provider_urn is not distinct from flagged.provider_urn
        and provider_placements.provider_ukprn is not distinct from flagged.provider_ukprn
        and provider_placements.supplier_key is not distinct from flagged.supplier_key
    left join child_placements
        on child_placements.la_code = flagged.la_code
        and child_placements.child_id = flagged.child_id
        and child_placements.posting_date = flagged.posting_date
    left join provider_types as by_urn
        on by_urn.la_code = flagged.la_code and by_urn.provider_kind = 'urn'
        and by_urn.provider_id = flagged.provider_urn
    left join provider_types as by_ukprn
        on by_ukprn.la_code = flagged.la_code and by_ukprn.provider_kind = 'ukprn'
        and by_ukprn.provider_id = flagged.provider_ukprn
    left join gias_types as gias_by_urn
        on gias_by_urn.la_code = flagged.la_code and gias_by_urn.urn = flagged.provider_urn
    left join gias_types_by_ukprn as gias_by_ukprn
        on gias_by_ukprn.la_code = flagged.la_code and gias_by_ukprn.ukprn = flagged.provider_ukprn
    left join provider_types_by_name as by_name
        on by_name.la_code = flagged.la_code and by_name.supplier_key = flagged.supplier_key
    left join provider_types_by_name_on_day as by_name_on_day
        on by_name_on_day.la_code = flagged.la_code
        and by_name_on_day.supplier_key = flagged.supplier_key
        and by_name_on_day.posting_date = flagged.posting_date
    left join gias_types_by_name as gias_by_name
        on gias_by_name.la_code = flagged.la_code and gias_by_name.supplier_key = flagged.supplier_key
),

-- the provider's type as the rules below use it: from placements first, else from GIAS
with_provider_type as (
    select
        *,
        coalesce(provider_provision_type, provider_gias_provision_type, provider_name_provision_type)
            as paid_provider_provision_type
    from with_provider
),

-- whether a placement-funding payment went to a provider of another type than the child's
-- placement that day (a unit or resourced place is its school's, mainstream)
with_conflict as (
    select
        *,
        coalesce(
            allocate_by_provider
            and paid_provider_provision_type
                <> case when child_placement_provision_type = 'mainstream_rp_unit' then 'mainstream'
                    else child_placement_provision_type end,
            false
        ) as paid_another_type
    from with_provider_type
)

select
    la_code,
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
        when not follows_child then 'central'
        when provider_placement_provision_type is not null then provider_placement_provision_type
        when child_placement_provision_type is not null and child_placement_in_force
            and not paid_another_type then child_placement_provision_type
        when allocate_by_provider and paid_provider_provision_type is not null then
            -- place funding in a mainstream school only exists for its resourced provision or unit
            case when s251_line = '1.0.2' and paid_provider_provision_type = 'mainstream'
                then 'mainstream_rp_unit' else paid_provider_provision_type end
        when child_placement_provision_type is not null and child_placement_in_force
            then child_placement_provision_type
        -- the child's placement before or after the posting date: after the provider paid's
        -- type (a child's old placement elsewhere is not what a school of another type is paid for)
        when child_placement_provision_type is not null then child_placement_provision_type
        else 'central'
    end as provision_type,
    case
        when not is_high_needs then 'not_high_needs'
        when named_placement_provision_type is not null then 'named_placement'
        when not follows_child then 'central'
        when provider_placement_provision_type is not null then 'child_placement_at_provider'
        when child_placement_provision_type is not null and child_placement_in_force
            and not paid_another_type then 'child_placement_on_posting_date'
        when allocate_by_provider and provider_provision_type is not null then 'provider_type'
        when allocate_by_provider and provider_gias_provision_type is not null then 'provider_gias_type'
        when allocate_by_provider and provider_name_provision_type is not null then 'provider_name_type'
        when child_placement_provision_type is not null and child_placement_in_force
            then 'child_placement_on_posting_date'
        when child_placement_provision_type is not null then 'child_placement_before_or_after'
        else 'central'
    end as allocation_method,
    placement_id is not null and named_placement_provision_type is null as is_unknown_placement,
    source_file_hash,
    source_file,
    source_row,
    load_id
from with_conflict
