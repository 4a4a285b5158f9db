-- Each placement spell with its DBV provision type, from the reviewed seed mappings:
-- the establishment's GIAS type when known (mainstream with a unit or resourced provision
-- becomes mainstream_rp_unit), else the SEN2 setting code, else a UKPRN with no type is taken
-- as an FE college, else the placement is unknown ('none').
with spells as (
    select * from {{ ref('stg_placements__spells') }}
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
            when establishment_types.provision_type is not null then 'establishment_type'
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

select * from classified
