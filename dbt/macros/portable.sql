{#- The few constructs DuckDB and Spark spell differently, one macro each (adapter.dispatch):
    `duckdb__` keeps what DuckDB ran before the project became portable (so its results do not
    change, and its ASOF joins and hints still save memory at England size); `default__` is the
    Spark SQL form (Spark, and Databricks through dbt-spark). Everything else in the models is
    written in forms both engines accept. -#}

{#- A CTE that every reader scans for its own columns rather than sharing a written-out copy:
    `with name {{ cte_as_not_materialized() }} (...)`. Spark always inlines CTEs. -#}
{% macro cte_as_not_materialized() -%}
    {{ return(adapter.dispatch('cte_as_not_materialized')()) }}
{%- endmacro %}

{% macro duckdb__cte_as_not_materialized() -%}
    as not materialized
{%- endmacro %}

{% macro default__cte_as_not_materialized() -%}
    as
{%- endmacro %}


{#- One row per value from `start` to `stop` inclusive, by `step` (a number, or an interval for
    dates; 1 when not given): a set-returning expression for a select list. -#}
{% macro series(start, stop, step=none) -%}
    {{ return(adapter.dispatch('series')(start, stop, step)) }}
{%- endmacro %}

{% macro duckdb__series(start, stop, step) -%}
    unnest(generate_series({{ start }}, {{ stop }}{% if step is not none %}, {{ step }}{% endif %}))
{%- endmacro %}

{% macro default__series(start, stop, step) -%}
    explode(sequence({{ start }}, {{ stop }}{% if step is not none %}, {{ step }}{% endif %}))
{%- endmacro %}


{#- One row per distinct element of a list (array) column: a set-returning expression. -#}
{% macro unnest_distinct(list_expr) -%}
    {{ return(adapter.dispatch('unnest_distinct')(list_expr)) }}
{%- endmacro %}

{% macro duckdb__unnest_distinct(list_expr) -%}
    unnest(list_distinct({{ list_expr }}))
{%- endmacro %}

{% macro default__unnest_distinct(list_expr) -%}
    explode(array_distinct({{ list_expr }}))
{%- endmacro %}


{#- ISO day of the week of a date: Monday = 1 … Sunday = 7. -#}
{% macro iso_day_of_week(date_expr) -%}
    {{ return(adapter.dispatch('iso_day_of_week')(date_expr)) }}
{%- endmacro %}

{% macro duckdb__iso_day_of_week(date_expr) -%}
    isodow({{ date_expr }})
{%- endmacro %}

{% macro default__iso_day_of_week(date_expr) -%}
    (weekday({{ date_expr }}) + 1)
{%- endmacro %}


{#- A double rounded to `digits` decimal places as DuckDB's round(double, digits) rounds it: the
    double's exact binary value, half away from zero, so 17800.265 (stored as 17800.26499999…)
    rounds to 17800.26. Spark's round rounds the double's shortest decimal spelling ("17800.265")
    half up, a penny apart exactly when that spelling is a half; there the Spark form finds which
    side of the half the double lies on (the exact sign of q·2·10^digits − the half's odd
    numerator, from a Veltkamp split of q: every step exact in double arithmetic) and rounds
    towards zero when it lies inside. -#}
{% macro round_double(expr, digits) -%}
    {{ return(adapter.dispatch('round_double')(expr, digits)) }}
{%- endmacro %}

{% macro duckdb__round_double(expr, digits) -%}
    round({{ expr }}, {{ digits }})
{%- endmacro %}

{% macro default__round_double(expr, digits) -%}
    {%- set q = '(' ~ expr ~ ')' -%}
    {%- set twice = 2 * 10 ** digits -%}
    {%- set rounded = 'round(' ~ q ~ ', ' ~ digits ~ ')' -%}
    {#- the half next to `rounded` on the side of zero, times 2·10^digits: an odd whole number -#}
    {%- set half = '(round(' ~ rounded ~ ' * ' ~ twice ~ ') - sign(' ~ q ~ '))' -%}
    {%- set high = '(' ~ q ~ ' * 134217729e0 - (' ~ q ~ ' * 134217729e0 - ' ~ q ~ '))' -%}
    {%- set low = '(' ~ q ~ ' - ' ~ high ~ ')' -%}
    case
        when {{ q }} = {{ half }} / {{ twice }}e0
            and sign({{ q }}) * (({{ high }} * {{ twice }} - {{ half }}) + {{ low }} * {{ twice }}) < 0
            then (round({{ rounded }} * {{ 10 ** digits }}) - sign({{ q }})) / {{ 10 ** digits }}e0
        else {{ rounded }}
    end
{%- endmacro %}


{#- An as-of join: each row of `left` (a CTE or relation name) with the one row of `right` whose
    `right_time` is the nearest to its `left_time` on the side `op` says — '>=' the latest
    right_time at or before left_time, '<=' the earliest at or after it — among the rows where
    every pair of `equal` columns ([left column, right column], …) matches. `columns` is the
    select list (qualified with the two names); `left_key` the columns that identify a row of
    `left`; `tie_break` orders right rows with the same right_time; `kind` inner or left (a left
    row with no match keeps nulls).

    DuckDB runs its ASOF join (a merge, no sort of the whole product) on the right rows made unique
    per `equal` key and right_time first (the first by `tie_break`: its ASOF join would take any
    one of several). Elsewhere: an equi-join on `equal` with the time condition, ranked per left
    row by right_time and then `tie_break`. The two choose the same row. -#}
{% macro asof_join(columns, left, right, equal, left_time, op, right_time, left_key, tie_break,
    kind='inner') -%}
    {%- if op not in ('>=', '<=') or kind not in ('inner', 'left') -%}
        {{ exceptions.raise_compiler_error("asof_join: op must be >= or <=, kind inner or left") }}
    {%- endif -%}
    {{ return(adapter.dispatch('asof_join')(
        columns, left, right, equal, left_time, op, right_time, left_key, tie_break, kind)) }}
{%- endmacro %}

{% macro duckdb__asof_join(columns, left, right, equal, left_time, op, right_time, left_key,
    tie_break, kind) -%}
    select {{ columns | join(', ') }}
    from {{ left }}
    asof {{ kind }} join (
        -- one right row per key and time, the first by `tie_break`: of rows with the same time
        -- the ASOF join would take any one, so the figures could change from run to run
        select * from {{ right }}
        qualify row_number() over (
            partition by {% for pair in equal %}{{ pair[1] }}, {% endfor %}{{ right_time }}
            order by {% for column in tie_break %}{{ column }} nulls last{% if not loop.last %}, {% endif %}{% endfor %}
        ) = 1
    ) as {{ right }}
        on {% for pair in equal %}{{ right }}.{{ pair[1] }} = {{ left }}.{{ pair[0] }} and {% endfor -%}
        {{ left }}.{{ left_time }} {{ op }} {{ right }}.{{ right_time }}
{%- endmacro %}

{% macro default__asof_join(columns, left, right, equal, left_time, op, right_time, left_key,
    tie_break, kind) -%}
    select {{ columns | join(', ') }}
    from {{ left }}
    {{ kind }} join {{ right }}
        on {% for pair in equal %}{{ right }}.{{ pair[1] }} = {{ left }}.{{ pair[0] }} and {% endfor -%}
        {{ left }}.{{ left_time }} {{ op }} {{ right }}.{{ right_time }}
    qualify row_number() over (
        partition by {% for column in left_key %}{{ left }}.{{ column }}{% if not loop.last %}, {% endif %}{% endfor %}
        order by {{ right }}.{{ right_time }} {{ 'desc' if op == '>=' else 'asc' }} nulls last
            {%- for column in tie_break %}, {{ right }}.{{ column }} nulls last{% endfor %}
    ) = 1
{%- endmacro %}
