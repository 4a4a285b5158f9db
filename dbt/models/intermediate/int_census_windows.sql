-- Each council's census years as windows: each January census day with the census day before it. A plan,
-- placement or event belongs to census year Y when its date falls after the previous census day
-- and on or before Y's (period_start < date <= period_end, the macro in_census_window): an
-- event on census day counts in the year that census closes. The first census day in the data
-- has no earlier one, and so closes no window.
with census as (
    select
        la_code,
        census_year,
        lag(census_year) over (partition by la_code order by census_date) as previous_census_year,
        lag(census_date) over (partition by la_code order by census_date) as period_start,
        census_date as period_end
    from {{ ref('int_census_dates') }}
)

select la_code, census_year, previous_census_year, period_start, period_end
from census
where period_start is not null
