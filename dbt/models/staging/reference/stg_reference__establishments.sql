with source as (
    {{ current_rows('gias', ['urn']) }}
),

renamed as (
    select
        _la_code as la_code,
        urn,
        ukprn,
        establishment_name,
        cast(establishment_type_code as integer) as establishment_type_code,
        _file_hash as source_file_hash,
        _source_file as source_file,
        _source_row as source_row,
        _load_id as load_id
    from source
)

select * from renamed
