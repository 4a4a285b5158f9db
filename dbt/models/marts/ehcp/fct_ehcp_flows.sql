-- Flows that change the caseload in each census year, per provision type: plans issued and
-- ceased (and the ceased by their SEN2 reason, in the DfE's published categories: a plan that
-- left for another council is told from one whose needs were met), and plans that moved between
-- provision types from one census day to the next.
{%- set reasons = [
    ('ceased_max_age', '= 1'), ('ceased_needs_met', '= 2'), ('ceased_he', '= 3'),
    ('ceased_employ', '= 4'), ('ceased_transfer', '= 5'), ('ceased_no_engage', '= 6'),
    ('ceased_moved_outside_eng', '= 7'), ('ceased_deceased', '= 8'), ('ceased_other', '= 9'),
    ('ceased_not_rec', 'is null'),
] %}
with events as (
    select * from {{ ref('int_ehcp_plan_events') }}
),

snapshots as (
    select * from {{ ref('int_ehcp_census_snapshots') }}
),

windows as (
    select la_code, census_year, period_start, period_end from {{ ref('int_census_windows') }}
),

moves as (
    select
        this_year.la_code,
        this_year.census_year,
        last_year.provision_type as from_provision_type,
        this_year.provision_type as to_provision_type
    from snapshots as this_year
    inner join windows on windows.la_code = this_year.la_code and windows.census_year = this_year.census_year
    inner join snapshots as last_year
        on last_year.la_code = this_year.la_code
        -- the same plan, or the plan it was re-issued as (plan_lineage)
        and last_year.lineage_plan_id = this_year.lineage_plan_id
        and last_year.census_date = windows.period_start
    where last_year.provision_type <> this_year.provision_type
),

counts as (
    select la_code, census_year, provision_type, count(*) filter (where event = 'issued') as new_plans,
        count(*) filter (where event = 'ceased') as ceased_plans, 0 as moved_in, 0 as moved_out
        {%- for column, reason in reasons %},
        count(*) filter (where event = 'ceased' and cease_reason {{ reason }}) as {{ column }}
        {%- endfor %}
    from events group by all
    union all
    select la_code, census_year, to_provision_type, 0, 0, count(*), 0
        {%- for column, reason in reasons %}, 0{% endfor %}
    from moves group by all
    union all
    select la_code, census_year, from_provision_type, 0, 0, 0, count(*)
        {%- for column, reason in reasons %}, 0{% endfor %}
    from moves group by all
),

grid as (
    select windows.*, provision_types.provision_type, provision_types.sort_order
    from windows
    cross join {{ ref('provision_types') }} as provision_types
    where provision_types.has_placements
)

select
    cast(grid.la_code as string) as la_code,
    cast(grid.census_year as integer) as year,
    grid.period_start,
    grid.period_end,
    cast(grid.provision_type as string) as provision_type,
    cast(coalesce(sum(counts.new_plans), 0) as bigint) as new_plans,
    cast(coalesce(sum(counts.ceased_plans), 0) as bigint) as ceased_plans,
    cast(coalesce(sum(counts.moved_in), 0) as bigint) as moved_in,
    cast(coalesce(sum(counts.moved_out), 0) as bigint) as moved_out
    {%- for column, reason in reasons %},
    cast(coalesce(sum(counts.{{ column }}), 0) as bigint) as {{ column }}
    {%- endfor %}
from grid
left join counts
    on counts.la_code = grid.la_code
    and counts.census_year = grid.census_year and counts.provision_type = grid.provision_type
group by grid.la_code, grid.census_year, grid.period_start, grid.period_end, grid.provision_type, grid.sort_order
order by grid.la_code, grid.census_year, grid.sort_order
