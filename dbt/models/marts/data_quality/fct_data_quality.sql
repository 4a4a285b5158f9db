-- What happened to every row of every landing file: read, loaded, exact duplicates,
-- quarantined (in total and by reason), superseded by a later file, current in staging, and
-- flagged (by flag); and the values set aside from rows loaded without them (by column and
-- reason). One row per file, measure and reason.
{% set extracts = {
    'ehcp': 'stg_ehcp__plans',
    'placements': 'stg_placements__spells',
    'finance': 'stg_finance__transactions',
    'budget': 'stg_budget__lines',
    'gias': 'stg_reference__establishments',
    'requests': 'stg_requests__assessment_requests',
} %}

with files as (
    {% for extract in extracts %}
    select la_code, extract, file_hash, file_name, status, message, in_landing, rows_read, rows_valid, rows_duplicate,
        rows_quarantined, money_read_gbp, money_quarantined_gbp, gross_money_read_gbp,
        gross_money_quarantined_gbp
    from {{ source('raw', extract ~ '_files') }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

reasons as (
    {% for extract in extracts %}
    select '{{ extract }}' as extract, _file_hash as file_hash, reason_code, count(*) as rows
    from (
        select _file_hash, {{ unnest_distinct('reason_codes') }} as reason_code
        from {{ source('quarantine', extract) }}
    ) as quarantined
    group by all
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

set_aside as (
    {% for extract in extracts %}
    select '{{ extract }}' as extract, _file_hash as file_hash,
        column_name || ': ' || reason_code as reason, count(*) as rows
    from {{ source('quarantine', extract ~ '_values') }}
    group by all
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

current_rows as (
    {% for extract, model in extracts.items() %}
    select '{{ extract }}' as extract, source_file_hash as file_hash, count(*) as rows
    from {{ ref(model) }}
    group by all
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

flags as (
    select extract, source_file_hash as file_hash, flag, count(*) as rows
    from {{ ref('int_data_quality_flags') }}
    group by all
),

measures as (
    select extract, file_hash, 'rows_read' as measure, null as reason, rows_read as rows,
        money_read_gbp as amount_gbp, gross_money_read_gbp as gross_amount_gbp
    from files
    union all select extract, file_hash, 'rows_loaded', null, rows_valid, null, null from files
    union all select extract, file_hash, 'rows_exact_duplicate', null, rows_duplicate, null, null from files
    union all
    select extract, file_hash, 'rows_quarantined', null, rows_quarantined, money_quarantined_gbp,
        gross_money_quarantined_gbp
    from files
    union all select extract, file_hash, 'rows_quarantined_by_reason', reason_code, rows, null, null from reasons
    union all
    select files.extract, files.file_hash, 'rows_current', null, coalesce(current_rows.rows, 0), null, null
    from files left join current_rows using (extract, file_hash)
    where files.status = 'loaded'
    union all
    select files.extract, files.file_hash, 'rows_superseded', null,
        case when files.in_landing then files.rows_valid - coalesce(current_rows.rows, 0) else 0 end, null,
        null
    from files left join current_rows using (extract, file_hash)
    where files.status = 'loaded'
    union all select extract, file_hash, 'rows_flagged_by_flag', flag, rows, null, null from flags
    union all
    select extract, file_hash, 'values_set_aside_by_column', reason, rows, null, null from set_aside
    union all select extract, file_hash, 'file_rejected', message, 0, null, null from files where status = 'rejected'
)

select
    cast(files.la_code as string) as la_code,
    cast(measures.extract as string) as extract,
    cast(files.file_name as string) as source_file,
    cast(measures.file_hash as string) as file_hash,
    cast(files.status as string) as file_status,
    cast(files.in_landing as boolean) as in_landing,
    cast(measures.measure as string) as measure,
    cast(measures.reason as string) as reason,
    cast(coalesce(measures.rows, 0) as bigint) as rows,
    cast(measures.amount_gbp as decimal(18, 2)) as amount_gbp,
    cast(measures.gross_amount_gbp as decimal(18, 2)) as gross_amount_gbp
from measures
inner join files using (extract, file_hash)
order by la_code, extract, source_file, measure, reason
