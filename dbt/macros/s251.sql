{#- Whether a ledger row is high needs block spend: as the reviewed seed s251_lines says, and for a
    line the seed does not list, any 1.2.x line (the high needs lines of the S251 outturn).
    `seed_flag` is the seed's is_high_needs (null when the line is not listed). -#}
{% macro is_high_needs(seed_flag, s251_line) -%}
    coalesce({{ seed_flag }}, {{ s251_line }} like '1.2.%')
{%- endmacro %}
