with source as (
    {{ current_rows('placements', ['placement_id'], by_named_day=true) }}
),

-- less a placement an earlier SEN2 return holds that the next one no longer lists, corrected
live as (
    {{ without_retired('source', 'placements', 'placement_id') }}
),

renamed as (
    select
        _la_code as la_code,
        placement_id,
        child_id,
        urn,
        ukprn,
        sen_setting,
        establishment_name,
        cast(establishment_type_code as integer) as establishment_type_code,
        coalesce(sen_unit = 'Y', false) as is_sen_unit,
        coalesce(resourced_provision = 'Y', false) as is_resourced_provision,
        residential,
        start_date,
        -- a plan or placement the next SEN2 return shows ended before its window
        {{ held_to_ended('end_date') }} as end_date,
        annual_cost as annual_cost_gbp,
        cast(placement_rank as integer) as placement_rank,
        _file_hash as source_file_hash,
        _source_file as source_file,
        _source_row as source_row,
        _load_id as load_id
    from live
)

select * from renamed
