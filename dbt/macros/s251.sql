{#- Whether a ledger row is high needs block spend: as the reviewed seed s251_lines says, and for a
    line the seed does not list, any 1.2.x line (the high needs lines of the S251 outturn).
    `seed_flag` is the seed's is_high_needs (null when the line is not listed). -#}
{% macro is_high_needs(seed_flag, s251_line) -%}
    coalesce({{ seed_flag }}, {{ s251_line }} like '1.2.%')
{%- endmacro %}

{#- A Section 251 line number as the seed writes it: each part a whole number without leading
    zeros (`1.0.02` and `01.2.3` are 1.0.2 and 1.2.3, as the contract's pattern lets a ledger write
    them; compared as text they missed the seed and the 1.2.x rule). Two or three parts. -#}
{% macro s251_line_normalised(s251_line) -%}
    {%- set parts = [] -%}
    {%- for k in [1, 2] -%}
        {%- do parts.append("cast(cast(split_part(" ~ s251_line ~ ", '.', " ~ k ~ ") as decimal(38, 0)) as string)") -%}
    {%- endfor -%}
    {{ parts | join(" || '.' || ") }}
    || case when split_part({{ s251_line }}, '.', 3) <> ''
        then '.' || cast(cast(split_part({{ s251_line }}, '.', 3) as decimal(38, 0)) as string)
        else '' end
{%- endmacro %}
