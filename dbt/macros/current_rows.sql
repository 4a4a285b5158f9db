{#- The current version of each row of a raw `<extract>` table (`extract` names it): only files still in the
    landing folder count, and where several files hold the same key (an overlapping monthly
    export, a re-export of the plan list) the row from the most recently loaded file wins (by
    its first read: a file read again when a date in it has come keeps its place); of two
    SEN2 returns, the one of the later census wins (`census_date`), whatever order they were
    loaded in: an older return backfilled after a newer one does not undo its ceased plans.
    Superseded versions stay in raw for audit. Each row carries `_la_code`, the council whose
    folder its file came from (raw `<extract>_files`), and keys are keys within one council.
    With `after_file_seq`, only the files loaded after it are read (the ledger's incremental
    build, see ledger_increment.sql).

    Written for tens of millions of rows: a key held once (nearly every key) is kept as it is; only
    the rows of repeated keys are ranked, rather than every row being sorted by key.

    With `first`, a condition on the file record (`files`), the rows of files where it holds win
    before any of the above: the GIAS extract in a council's own folder over the region's shared
    one, whichever was loaded last.

    With `by_named_day` (lists re-sent whole as at a day: plans, placements, requests, GIAS
    extracts), the later
    day a file's name gives (`named_day`) wins before the load order: files new in one refresh
    whose names all give a day load in that order, so a list dated before one already loaded (a
    re-sent February list after March's) no longer wins because it came later, and a rebuild
    from the folder gives what the nights gave. A file whose name gives no day (a corrections
    file) is as late as the latest day of the files loaded up to it: it beats what was there when
    it came, and a list dated after it beats it. Ingest records that day on the file
    (`ranking_day`), which the quarantine gate reads too. -#}
{% macro current_rows(extract, key_columns, after_file_seq=none, first=none, by_named_day=false) -%}
    {#- a key is a key within one council: the same plan id in two councils' files is two plans -#}
    {%- set key_columns = ['_la_code'] + key_columns -%}
    {%- set same_key = [] -%}
    {%- for column in key_columns -%}
        {%- do same_key.append('candidates.' ~ column ~ ' is not distinct from repeated.' ~ column) -%}
    {%- endfor -%}
    with
    candidates {{ cte_as_not_materialized() }} (
        select valid.*, files.file_seq as _file_seq,
            coalesce(files.precedence_seq, files.file_seq) as _precedence_seq,
            files.census_date as _census_date,
            {% if by_named_day %}files.ranking_day{% else %}cast(null as date){% endif %}
                as _day_named,
            files.la_code as _la_code
            {%- if first is not none %}, {{ first }} as _first{% endif %}
        from {{ source('raw', extract) }} as valid
        inner join {{ source('raw', extract ~ '_files') }} as files
            on files.file_hash = valid._file_hash
            and files.in_landing
            and files.status = 'loaded'
            {%- if after_file_seq is not none %}
            -- an increment: the files loaded since the last build (their rows replace any
            -- earlier version of the same key, by the model's unique key)
            and files.file_seq > {{ after_file_seq }}
            {%- endif %}
    ),

    repeated as (
        select {{ key_columns | join(', ') }}
        from candidates
        group by all
        having count(*) > 1
    )

    select candidates.*
    from candidates
    anti join repeated on {{ same_key | join(' and ') }}

    union all

    select * from (
        select candidates.*
        from candidates
        semi join repeated on {{ same_key | join(' and ') }}
        qualify row_number() over (
            partition by {{ key_columns | join(', ') }}
            order by {% if first is not none %}_first desc, {% endif -%}
                _census_date desc nulls last, _day_named desc nulls last, _precedence_seq desc,
                _file_seq desc,
                _source_row desc
        ) = 1
    ) as latest
{%- endmacro %}

{#- The rows of `rows` (a relation of current_rows(extract, [key])) less the plans or placements an
    earlier SEN2 return holds that the next one no longer lists and corrected
    (stg_sen2__retired), with `_ended_by`: the day one it lists no correction of ended by (before
    its window), else null; see `held_to_ended`. -#}
{% macro without_retired(rows, extract, key) -%}
    select {{ rows }}.*, ended.ended_by as _ended_by
    from {{ rows }}
    left join {{ ref('stg_sen2__retired') }} as ended
        on ended.la_code = {{ rows }}._la_code
        and ended.extract = '{{ extract }}'
        and ended.record_id = {{ rows }}.{{ key }}
    where ended.record_id is null or ended.ended_by is not null
{%- endmacro %}

{#- A cease or end date `ends` held to `_ended_by` (without_retired) when that is earlier. -#}
{% macro held_to_ended(ends) -%}
    case
        when _ended_by is not null and ({{ ends }} is null or {{ ends }} > _ended_by)
        then _ended_by
        else {{ ends }}
    end
{%- endmacro %}
