with source as (
    {{ current_rows('ehcp', ['plan_id'], by_named_day=true) }}
),

-- less a plan an earlier SEN2 return holds that the next one no longer lists, corrected
live as (
    {{ without_retired('source', 'ehcp', 'plan_id') }}
),

renamed as (
    select
        _la_code as la_code,
        plan_id,
        child_id,
        date_of_birth,
        sex,
        primary_need,
        secondary_need,
        request_date,
        plan_start_date,
        -- a plan or placement the next SEN2 return shows ended before its window
        {{ held_to_ended('plan_cease_date') }} as plan_cease_date,
        cast(cease_reason as integer) as cease_reason,
        _file_hash as source_file_hash,
        _source_file as source_file,
        _source_row as source_row,
        _load_id as load_id
    from live
)

select * from renamed
