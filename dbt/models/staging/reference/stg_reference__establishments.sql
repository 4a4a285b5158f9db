-- Each council's establishments by URN. Where the council's own GIAS extract (in its folder)
-- and the region's shared one both give a URN, the council's own wins, whichever was loaded
-- last (load order and the files' names decided it, so a council's figures moved with the
-- refresh's history); within either, the extract of the later day its name gives
-- (edubasealldata20250601.csv), as for the lists of plans: an older extract dropped in after a
-- newer one had typed schools by their old types (an independent special school re-registered
-- as mainstream moved 28 plans, green but for the restatement warnings); then the latest loaded.
with source as (
    {{ current_rows(
        'gias', ['urn'],
        first="concat(files.la_code, '/') = left(files.file_name, length(files.la_code) + 1)",
        by_named_day=true
    ) }}
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
