{% macro percent_of(part, whole) -%}
    {#- part as a percentage of whole, to one decimal place; null when whole is not positive.
        Divided in double precision on every engine (DuckDB divides decimals so; Spark would not). -#}
    cast(case when {{ whole }} > 0 then {{ round_double('cast(100.0 * ' ~ part ~ ' as double) / ' ~ whole, 1) }} end as double)
{%- endmacro %}
