-- Each placement spell with its DBV provision type, from the reviewed seed mappings:
-- the establishment's GIAS type when known — from the placement, else from the council's GIAS extract by
-- URN or UKPRN, else the type the council's other placements give the same URN or UKPRN
-- (mainstream with a unit or resourced provision becomes mainstream_rp_unit) — else the SEN2
-- setting code, else a UKPRN with no type is taken as an FE college, else the placement is
-- unknown ('none').
with spells_as_given as (
    select * from {{ ref('stg_placements__spells') }}
),

establishments as (
    select * from {{ ref('stg_reference__establishments') }}
),

-- one establishment per UKPRN: GIAS gives some UKPRNs to a school and a college at once; a
-- placement named by UKPRN alone is at a post-16 provider (SEN2), so a post-16 type comes first,
-- then the lowest type code, the name from the same row
by_ukprn as (
    select establishments.la_code, establishments.ukprn, establishments.establishment_type_code,
        establishments.establishment_name
    from establishments
    left join {{ ref('gias_establishment_types') }} as types
        on types.establishment_type_code = establishments.establishment_type_code
    where establishments.ukprn is not null
    qualify row_number() over (
        partition by establishments.la_code, establishments.ukprn
        order by case when types.provision_type in ('post16_fe', 'post16_spi') then 0 else 1 end,
            establishments.establishment_type_code nulls last, establishments.urn
    ) = 1
),

-- the type the council's placements give each URN and UKPRN, where they give one, to those
-- with no type code or one the seed does not know: a SEN2
-- return names a college or specialist post-16 institution by UKPRN alone, with no type, and
-- without a GIAS extract every such placement was taken as an FE college (a specialist post-16
-- institution's fees and children counted as FE, green) though the council's own placements
-- at the same UKPRN said otherwise. For each untyped placement, the type of the placement
-- there that started last on or before it (else the first after it): a school re-registered,
-- independent special to independent mainstream, is its new type from then, its old one
-- before (the latest type lent to all moved the years before the change). A UKPRN: a post-16
-- type first, as in by_ukprn; ties, the lowest code
{% for id in ['urn', 'ukprn'] %}
given_by_{{ id }} as (
    select untyped.la_code, untyped.placement_id, typed.establishment_type_code
    from spells_as_given as untyped
    inner join spells_as_given as typed
        on typed.la_code = untyped.la_code
        and typed.{{ id }} = untyped.{{ id }}
        and typed.establishment_type_code is not null
    -- (a type code the seed does not know types nothing: it is not lent)
    inner join {{ ref('gias_establishment_types') }} as types
        on types.establishment_type_code = typed.establishment_type_code
    -- the untyped placement's own code, where the seed knows it (a join, not `not exists`: a
    -- correlated subquery on the seed failed on Spark)
    left join {{ ref('gias_establishment_types') }} as own_type
        on own_type.establishment_type_code = untyped.establishment_type_code
    where untyped.{{ id }} is not null and own_type.establishment_type_code is null
    qualify row_number() over (
        partition by untyped.la_code, untyped.placement_id
        order by
            {% if id == 'ukprn' %}
            case when types.provision_type in ('post16_fe', 'post16_spi') then 0 else 1 end,
            {% endif %}
            case when typed.start_date <= untyped.start_date then 0 else 1 end,
            case when typed.start_date <= untyped.start_date then typed.start_date end desc nulls last,
            typed.start_date, typed.establishment_type_code
    ) = 1
),
{% endfor %}

spells as (
    -- every column of the spell in its order, the establishment filled in from GIAS: listed, as
    -- Spark has no `* replace` (a column added to the staging model is added here too)
    select
        spells_as_given.la_code,
        spells_as_given.placement_id,
        spells_as_given.child_id,
        spells_as_given.urn,
        spells_as_given.ukprn,
        spells_as_given.sen_setting,
        coalesce(
            spells_as_given.establishment_name, by_urn.establishment_name, by_ukprn.establishment_name
        ) as establishment_name,
        -- the placement's own code where the reviewed seed knows it: one it does not (a `99`
        -- typed in the case system) had kept GIAS from typing the URN, and its children counted
        -- as in no placement though the GIAS extract the gate's remedy asks for was there; kept
        -- when nothing else types the establishment
        -- (a GIAS row's code the seed does not know likewise gives way to the other placements)
        coalesce(
            given_types.establishment_type_code,
            urn_types.establishment_type_code,
            given_by_urn.establishment_type_code,
            ukprn_types.establishment_type_code,
            given_by_ukprn.establishment_type_code,
            spells_as_given.establishment_type_code,
            by_urn.establishment_type_code,
            by_ukprn.establishment_type_code
        ) as establishment_type_code,
        spells_as_given.is_sen_unit,
        spells_as_given.is_resourced_provision,
        spells_as_given.residential,
        spells_as_given.start_date,
        spells_as_given.end_date,
        spells_as_given.annual_cost_gbp,
        spells_as_given.placement_rank,
        spells_as_given.source_file_hash,
        spells_as_given.source_file,
        spells_as_given.source_row,
        spells_as_given.load_id,
        case
            when given_types.establishment_type_code is not null then 'establishment_type'
            when urn_types.establishment_type_code is not null then 'gias_establishment_type'
            when given_by_urn.establishment_type_code is not null then 'other_placements_type'
            when ukprn_types.establishment_type_code is not null then 'gias_establishment_type'
            when given_by_ukprn.establishment_type_code is not null then 'other_placements_type'
            else 'establishment_type'
        end as type_source
    from spells_as_given
    left join {{ ref('gias_establishment_types') }} as given_types
        on given_types.establishment_type_code = spells_as_given.establishment_type_code
    left join establishments as by_urn
        on by_urn.la_code = spells_as_given.la_code and by_urn.urn = spells_as_given.urn
    left join {{ ref('gias_establishment_types') }} as urn_types
        on urn_types.establishment_type_code = by_urn.establishment_type_code
    left join by_ukprn on by_ukprn.la_code = spells_as_given.la_code and by_ukprn.ukprn = spells_as_given.ukprn
    left join {{ ref('gias_establishment_types') }} as ukprn_types
        on ukprn_types.establishment_type_code = by_ukprn.establishment_type_code
    left join given_by_urn
        on given_by_urn.la_code = spells_as_given.la_code
        and given_by_urn.placement_id = spells_as_given.placement_id
    left join given_by_ukprn
        on given_by_ukprn.la_code = spells_as_given.la_code
        and given_by_ukprn.placement_id = spells_as_given.placement_id
),

establishment_types as (
    select * from {{ ref('gias_establishment_types') }}
),

sen_settings as (
    select * from {{ ref('sen_settings') }}
),

classified as (
    select
        spells.*,
        case
            when establishment_types.provision_type = 'mainstream'
                and (spells.is_sen_unit or spells.is_resourced_provision)
                then 'mainstream_rp_unit'
            when establishment_types.provision_type is not null
                then establishment_types.provision_type
            when sen_settings.provision_type is not null
                then sen_settings.provision_type
            when spells.ukprn is not null
                then 'post16_fe'
            else 'none'
        end as provision_type,
        case
            when establishment_types.provision_type is not null then spells.type_source
            when sen_settings.provision_type is not null then 'sen_setting'
            when spells.ukprn is not null then 'ukprn_without_type'
            else 'unclassified'
        end as classified_by
    from spells
    left join establishment_types
        on establishment_types.establishment_type_code = spells.establishment_type_code
    left join sen_settings
        on sen_settings.sen_setting = spells.sen_setting
)

select * except (type_source) from classified
