-- The plans and placements an earlier SEN2 return holds that the next return no longer lists,
-- though they were live in its window: the next return retires them. A return lists every plan
-- and placement live in the calendar year before its census day up to that day; consecutive
-- returns' windows meet (January 2025's starts on 1 January 2024, before January 2024's census
-- day), so a plan or placement the earlier one shows open at its census, or ending on or after
-- the next one's window began, is in the next one — under its key, or under a corrected one
-- (another start or entry date, establishment, or a child id the child's new UPN gives). Not
-- listed, it was corrected or withdrawn, and kept it would count twice (a child's placement
-- days and new plans) beside its correction. A year missing between two returns retires nothing
-- (the later window does not reach the earlier census). Rows of CSV extracts are never retired.
with plans as (
    {{ current_rows('ehcp', ['plan_id']) }}
),

placements as (
    {{ current_rows('placements', ['placement_id']) }}
),

-- each SEN2 return's census day and the next return's, per council and extract
{% for extract in ['ehcp', 'placements'] %}
{{ extract }}_returns as (
    select
        la_code,
        census_date,
        lead(census_date) over (partition by la_code order by census_date) as next_census_date
    from (
        select distinct la_code, census_date
        from {{ source('raw', extract ~ '_files') }}
        where census_date is not null and in_landing and status = 'loaded'
    ) as returns
),
{% endfor %}

retired as (
    {% for extract, rows, key, ends in [
        ('ehcp', 'plans', 'plan_id', 'plan_cease_date'),
        ('placements', 'placements', 'placement_id', 'end_date'),
    ] %}
    select
        '{{ extract }}' as extract,
        {{ rows }}._la_code as la_code,
        {{ rows }}.{{ key }} as record_id,
        {{ rows }}._census_date as census_date,
        returns.next_census_date as retired_by_census_date,
        {{ rows }}._file_hash as source_file_hash,
        {{ rows }}._source_file as source_file,
        {{ rows }}._source_row as source_row
    from {{ rows }}
    inner join {{ extract }}_returns as returns
        on returns.la_code = {{ rows }}._la_code
        and returns.census_date = {{ rows }}._census_date
    where returns.next_census_date is not null
        -- the next return's window (from 1 January of the year before its census) meets this
        -- return's census, and the row was live in it
        and make_date(year(returns.next_census_date) - 1, 1, 1) <= {{ rows }}._census_date
        and (
            {{ rows }}.{{ ends }} is null
            or {{ rows }}.{{ ends }} >= make_date(year(returns.next_census_date) - 1, 1, 1)
        )
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select
    cast(la_code as string) as la_code,
    cast(extract as string) as extract,
    cast(record_id as string) as record_id,
    census_date,
    retired_by_census_date,
    cast(source_file_hash as string) as source_file_hash,
    cast(source_file as string) as source_file,
    source_row
from retired
