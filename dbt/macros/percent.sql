{% macro percent_of(part, whole) -%}
    {#- part as a percentage of whole, to one decimal place; null when whole is not positive -#}
    cast(case when {{ whole }} > 0 then round(100.0 * {{ part }} / {{ whole }}, 1) end as double)
{%- endmacro %}
