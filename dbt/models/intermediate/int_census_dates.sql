-- SEN2 census days inside the period each council's data covers: the DfE's dates from the seed
-- census_dates where listed (2021 was an exception), else the third Thursday of January; and
-- only those the plans and placements extracts reach (int_case_extract_reach: a list taken
-- before census day does not hold that census's plans).
with bounds as (
    select * from {{ ref('int_data_as_at') }}
),

case_reach as (
    select la_code, min(counts_census_to) as counts_census_to
    from {{ ref('int_case_extract_reach') }}
    group by la_code
),

years as (
    select la_code, {{ series('year(history_start_date)', 'year(as_at_date)') }} as census_year
    from bounds
),

census as (
    select
        years.la_code,
        years.census_year,
        coalesce(
            listed.census_date,
            -- first Thursday of January, then two weeks on (ISO days: Monday = 1, Thursday = 4)
            make_date(years.census_year, 1, 1)
                + cast((11 - {{ iso_day_of_week('make_date(years.census_year, 1, 1)') }}) % 7 as integer)
                + 14
        ) as census_date
    from years
    left join {{ ref('census_dates') }} as listed on listed.census_year = years.census_year
)

select
    census.la_code,
    census.census_year,
    census.census_date,
    make_date(census.census_year - 1, 8, 31) as curriculum_age_date
from census
inner join bounds on bounds.la_code = census.la_code
left join case_reach on case_reach.la_code = census.la_code
where census.census_date between bounds.history_start_date and bounds.as_at_date
    and (case_reach.counts_census_to is null or census.census_date <= case_reach.counts_census_to)
