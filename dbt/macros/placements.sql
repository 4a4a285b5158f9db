{#- A placement of `placements` (an alias of int_placements_classified) open on `day`: started on
    or before it, not ended before it. -#}
{% macro placement_open_on(placements, day) -%}
    ({{ placements }}.start_date <= {{ day }}
        and ({{ placements }}.end_date is null or {{ placements }}.end_date >= {{ day }}))
{%- endmacro %}

{#- Of a child's placements open on one day, the one that says where the child is comes first:
    the SEN2 main placement (PlacementRank 1) — the one the DfE's census counts — then, without
    ranks, the one started latest (a new spell whose predecessor was not closed), then the
    placement id. For a window's `order by`; a left join's missing placement sorts last. -#}
{% macro placement_in_force_order(placements) -%}
    {{ placements }}.placement_rank nulls last,
    {{ placements }}.start_date desc nulls last,
    {{ placements }}.placement_id nulls last
{%- endmacro %}

{#- Of a child's placements, the one a payment on `day` is for comes first: one open that day (in
    placement_in_force_order), else the one that ended last before it (paid in arrears), else the
    one that starts first after it (paid ahead). For a window's `order by`. -#}
{% macro placement_paid_on_order(placements, day) -%}
    case
        when {{ placement_open_on(placements, day) }} then 0
        when {{ placements }}.start_date <= {{ day }} then 1
        else 2
    end,
    case when {{ placements }}.end_date < {{ day }} then {{ placements }}.end_date end
        desc nulls last,
    case when {{ placements }}.start_date > {{ day }} then {{ placements }}.start_date end
        asc nulls last,
    {{ placement_in_force_order(placements) }}
{%- endmacro %}
