with source as (
    {{ current_rows('budget', ['financial_year', 'line']) }}
),

renamed as (
    select
        _la_code as la_code,
        financial_year,
        line,
        amount as amount_gbp,
        _file_hash as source_file_hash,
        _source_file as source_file,
        _source_row as source_row,
        _load_id as load_id
    from source
)

select * from renamed
