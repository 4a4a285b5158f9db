{#- The current version of each row of a raw `<extract>_valid` table (`extract` names it): only files still in the
    landing folder count, and where several files hold the same key (an overlapping monthly
    export, a re-export of the plan list) the row from the most recently loaded file wins.
    Superseded versions stay in raw for audit. -#}
{% macro current_rows(extract, key_columns) -%}
    select valid.*, files.file_seq as _file_seq
    from {{ source('raw', extract ~ '_valid') }} as valid
    inner join {{ source('raw', extract ~ '_files') }} as files
        on files.file_hash = valid._file_hash
        and files.in_landing
        and files.status = 'loaded'
    qualify row_number() over (
        partition by {{ key_columns | join(', ') }}
        order by files.file_seq desc, valid._source_row desc
    ) = 1
{%- endmacro %}
