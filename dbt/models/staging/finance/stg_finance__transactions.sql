-- A table, not a view like the rest of staging: the ledger is by far the largest extract (tens of
-- millions of rows for many councils), and six models and tests read it; as a view each of them
-- would pick the current version of every transaction again. Built incrementally when only new
-- finance files have arrived (macros/ledger_increment.sql).
{{ ledger_config() }}

with source as (
    {{ current_rows('finance', ['transaction_id'], ledger_after_file_seq()) }}
),

renamed as (
    select
        _la_code as la_code,
        transaction_id,
        posting_date,
        {{ financial_year('posting_date') }} as financial_year,
        amount as amount_gbp,
        {{ s251_line_normalised('s251_line') }} as s251_line,
        child_id,
        placement_id,
        provider_urn,
        provider_ukprn,
        supplier_name,
        cost_centre,
        description,
        _file_hash as source_file_hash,
        _source_file as source_file,
        _source_row as source_row,
        _load_id as load_id
    from source
)

select * from renamed
