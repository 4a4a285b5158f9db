{#- Each plan of `plans` (a relation or CTE with la_code, plan_id, child_id, plan_start_date and
    plan_cease_date) with its lineage: a plan issued on the day its child's previous plan ceased,
    or the day after, continues that plan. A case system re-issuing every plan under a new id (a
    migration; a plan re-issued on amendment) is neither a new plan nor a cessation: a bulk
    re-issue on one day had raised a year's new plans from 302 to 699 and its ceased plans
    alike, with every gate green. `lineage_plan_id` is the first plan of the unbroken run and
    `lineage_start_date` its start; `continues_previous` is true for each later plan of a run,
    `continued_by_next` for each but the last; `next_start_date` is the child's next plan's
    start. A plan issued while the previous one is still open is an overlap
    (overlapping_plan), not a continuation. -#}
{% macro plan_lineage(plans) -%}
    select
        la_code,
        plan_id,
        first_value(plan_id) over (
            partition by la_code, child_id, run order by plan_start_date, plan_id
        ) as lineage_plan_id,
        first_value(plan_start_date) over (
            partition by la_code, child_id, run order by plan_start_date, plan_id
        ) as lineage_start_date,
        continues_previous,
        coalesce(
            lead(continues_previous) over (
                partition by la_code, child_id order by plan_start_date, plan_id
            ),
            false
        ) as continued_by_next,
        lead(plan_start_date) over (
            partition by la_code, child_id order by plan_start_date, plan_id
        ) as next_start_date
    from (
        select
            *,
            sum(case when continues_previous then 0 else 1 end) over (
                partition by la_code, child_id order by plan_start_date, plan_id
                rows between unbounded preceding and current row
            ) as run
        from (
            select
                la_code,
                plan_id,
                child_id,
                plan_start_date,
                coalesce(
                    plan_start_date >= lag(plan_cease_date) over (
                        partition by la_code, child_id order by plan_start_date, plan_id
                    )
                    and plan_start_date <= cast(
                        lag(plan_cease_date) over (
                            partition by la_code, child_id order by plan_start_date, plan_id
                        ) + interval 1 day as date
                    ),
                    false
                ) as continues_previous
            from {{ plans }}
        ) as ordered
    ) as runs
{%- endmacro %}
