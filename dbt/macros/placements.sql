{#- A placement of `placements` (an alias of int_placements_classified) open on `day`: started on
    or before it, not ended before it. -#}
{% macro placement_open_on(placements, day) -%}
    ({{ placements }}.start_date <= {{ day }}
        and ({{ placements }}.end_date is null or {{ placements }}.end_date >= {{ day }}))
{%- endmacro %}

{#- Of a child's placements open on one day, the one that says where the child is comes first:
    the SEN2 main placement (PlacementRank 1) — the one the DfE's census counts — then one with
    no rank (beside a placement ranked 2 or lower, the unranked one is the main one: it had sorted
    after rank 2, and a PRU's few days took the child's census place), then the others by rank;
    among equals, the one started latest (a new spell whose predecessor was not closed), then
    the placement id. For a window's `order by`; a left join's missing placement sorts last. -#}
{% macro placement_in_force_order(placements) -%}
    case
        when {{ placements }}.placement_rank = 1 then 0
        when {{ placements }}.placement_rank is null then 1
        else {{ placements }}.placement_rank
    end,
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

{#- A provider's name as a key to match by: trimmed of spaces and tabs, lower case, none when
    blank ("St Mary's School\t" and "st mary's school" are one supplier: a finance system's
    export had left a tab after a name, and the unit's top-ups went to the child's special school). -#}
{% macro name_key(name) -%}
    nullif(lower(trim(replace({{ name }}, chr(9), ' '))), '')
{%- endmacro %}

{#- The name a payment of `transactions` (a relation of stg_finance__transactions) names its
    provider by where it gives neither URN nor UKPRN (a finance system knows its suppliers, not
    their URNs): the key int_spend_allocated and int_spend_provider_placements match it on. -#}
{% macro supplier_key(transactions) -%}
    case when {{ transactions }}.provider_urn is null and {{ transactions }}.provider_ukprn is null
        then {{ name_key(transactions ~ '.supplier_name') }} end
{%- endmacro %}

{#- The ledger's high needs payments that name a child but no known placement: those whose
    provision type a child's placement decides (int_spend_child_placements,
    int_spend_provider_placements). A `from … where …` clause over `transactions`; `placements`
    is the relation of int_placements_classified the model reads. -#}
{% macro payments_naming_a_child_without_a_placement(placements) -%}
    from {{ ref('stg_finance__transactions') }} as transactions
    left join {{ ref('s251_lines') }} as lines on lines.s251_line = transactions.s251_line
    left join {{ placements }} as named_placement
        on named_placement.la_code = transactions.la_code
        and named_placement.placement_id = transactions.placement_id
    where transactions.child_id is not null
        and transactions.posting_date is not null
        and named_placement.provision_type is null
        and {{ is_high_needs('lines.is_high_needs', 'transactions.s251_line') }}
{%- endmacro %}

{#- Children every plan of whom has ceased, and the day the last ceased (`ceased_on`), from
    `plans` (stg_ehcp__plans, or a CTE of it): a subquery for a join on la_code and child_id. -#}
{% macro children_with_every_plan_ceased(plans) -%}
    (
        select la_code, child_id, max(plan_cease_date) as ceased_on
        from {{ plans }}
        group by la_code, child_id
        having count(*) = count(plan_cease_date)
    )
{%- endmacro %}

{#- A placement of `placements` open (or ending) after `ceased_on`, the day its child's last plan
    ceased, whether it started before that day or after it: it counts no place after that day
    (int_placement_days_by_year) and is flagged placement_open_after_plan_ceased. -#}
{% macro open_after_plan_ceased(placements, ceased_on) -%}
    ({{ placements }}.end_date is null or {{ placements }}.end_date > {{ ceased_on }})
{%- endmacro %}
