{#- The ledger's models (stg_finance__transactions, int_spend_allocated, and the finance part of
    int_data_quality_flags) are built incrementally
    on DuckDB when the refresh finds that nothing but new finance files has changed since the
    last build (ingest/increment.py decides, and passes the last build's highest finance file
    sequence as the variable `finance_after_file_seq`); otherwise, and on other engines, they are
    rebuilt whole. New rows replace earlier versions of the same transaction (delete+insert on
    la_code and transaction_id), as a full build's "latest file wins" would. -#}

{#- The materialisation: incremental on DuckDB, a table elsewhere (Spark's Parquet tables have no
    delete+insert). -#}
{% macro ledger_materialization() -%}
    {{ return('incremental' if target.type == 'duckdb' else 'table') }}
{%- endmacro %}

{#- The highest finance file sequence already in the model, for an incremental build; none for
    a full one (a first build, `--full-refresh`, or no `finance_after_file_seq` given). -#}
{% macro ledger_after_file_seq() -%}
    {#- (a dbt unit test has no relation: `this` is none there, and the build whole) -#}
    {%- if this is not none and is_incremental() and var('finance_after_file_seq', none) is not none -%}
        {{ return(var('finance_after_file_seq') | int) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- Before an existing incremental model is built without an increment (e.g. `dbt build` run by
    hand): empty it, so the build that follows holds every current row and nothing stale. -#}
{% macro ledger_reset() -%}
    {%- if this is not none and is_incremental() and var('finance_after_file_seq', none) is none -%}
        delete from {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- The config both ledger models share: incremental on DuckDB by council and transaction id, each emptied
    first when built without an increment. -#}
{% macro ledger_config() -%}
    {{ config(
        materialized=ledger_materialization(),
        unique_key=['la_code', 'transaction_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook="{{ ledger_reset() }}",
    ) }}
{%- endmacro %}

{#- int_data_quality_flags: its finance flags follow the ledger's increment: the flags of the
    increment's transactions are deleted first, then those of their new versions added, so a
    corrected transaction that no longer deserves a flag loses it. The other extracts' flags are
    few and made again on every build (deleted first): one can change with the ledger alone (a
    plan live past 25 on a census day the new month's postings bring in). -#}
{% macro ledger_flags_config() -%}
    {{ config(
        materialized=ledger_materialization(),
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=["{{ ledger_reset() }}", "{{ ledger_forget_replaced_flags() }}"],
    ) }}
{%- endmacro %}

{% macro ledger_forget_replaced_flags() -%}
    {%- set after_file_seq = ledger_after_file_seq() -%}
    {%- if after_file_seq is not none -%}
        delete from {{ this }}
        where extract <> 'finance' or la_code || '|' || record_key in (
            select la_code || '|' || transaction_id from {{ ref('stg_finance__transactions') }}
            where source_file_hash in ({{ ledger_new_files(after_file_seq) }})
        )
    {%- endif -%}
{%- endmacro %}

{#- The file hashes of the finance files an increment reads. -#}
{% macro ledger_new_files(after_file_seq) -%}
    select file_hash from {{ source('raw', 'finance_files') }} where file_seq > {{ after_file_seq }}
{%- endmacro %}
