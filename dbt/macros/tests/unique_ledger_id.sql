{#- The ledger's transaction ids are unique in each council: one row per council and id that occurs
    more than once.
    After an increment (ingest/increment.py passes `ledger_checks_after_file_seq`) only the ids
    of the rows from files loaded after that sequence are counted, over the whole table: the
    other rows were unique when the last build passed this test, and only an increment has
    touched them since. A whole build, a build run by hand, and an increment whose last whole
    check is a week old count every id. -#}
{% test unique_ledger_id(model, column_name) %}
    {%- set after = var('ledger_checks_after_file_seq', none) %}
    select la_code, {{ column_name }} as unique_field, count(*) as n_records
    from {{ model }}
    where {{ column_name }} is not null
    {%- if after is not none %}
        and la_code || '|' || {{ column_name }} in (
            select la_code || '|' || {{ column_name }} from {{ model }}
            where source_file_hash in (
                select file_hash from {{ source('raw', 'finance_files') }}
                where file_seq > {{ after | int }}
            )
        )
    {%- endif %}
    group by la_code, {{ column_name }}
    having count(*) > 1
{% endtest %}
