-- What SEN2 adds to the DBV diagnostic, by calendar year, from the council's own returns, counted
-- as the DfE's EHCP release counts them: the year's requests and the decisions on them (to
-- assess or not; withdrawn first apart), plans issued, decisions not to issue and assessments
-- withdrawn in the year, the share of the year's
-- requests that became plans, and 20-week timeliness with and without the exceptions. Only
-- years a return reports in full (the calendar year before its census day); from a requests CSV's
-- rows (no census day), every year a request was received, a plan issued or a decision not to
-- issue made, up to the last whole year the extracts reach. Per council.
with requests as (
    select * from {{ ref('int_assessment_requests_timed') }}
),

returns as (
    select * from {{ ref('stg_requests__returns') }}
),

-- how far a requests CSV reaches: the day its files' names give when every one gives one (a list
-- taken on 30 September reaches no further, however far the ledger runs: its nine months of
-- 2025 were published as the year's, a fall), else the latest of its own dates and of the
-- council's other extracts. Its own dates past a named day count too. A year it does not reach
-- the end of is still under way: published, its requests would read as a fall
own_reach as (
    select la_code, max(greatest(
        request_date,
        coalesce(decision_date, request_date),
        coalesce(assessment_outcome_date, request_date),
        coalesce(plan_start_date, request_date)
    )) as reached
    from requests
    group by la_code
),

named_reach as (
    select
        la_code,
        min(case when named_day is null then 0 else 1 end) = 1 as every_file_named,
        max(named_day) as named_day
    from {{ source('raw', 'requests_files') }}
    where in_landing and status = 'loaded'
    group by la_code
),

other_reach as (
    select la_code, max(as_at_date) as reached from {{ ref('int_data_as_at') }} group by la_code
),

reach as (
    select
        own_reach.la_code,
        case
            when named_reach.every_file_named
                then greatest(named_reach.named_day, own_reach.reached)
            else greatest(
                own_reach.reached,
                coalesce(named_reach.named_day, own_reach.reached),
                coalesce(other_reach.reached, own_reach.reached)
            )
        end as reach_date
    from own_reach
    left join named_reach on named_reach.la_code = own_reach.la_code
    left join other_reach on other_reach.la_code = own_reach.la_code
),

-- the years a SEN2 return reports in full, and from a requests CSV's rows (those with no census
-- day: a CSV giving census_date on some rows had every year but those rows' dropped) every year
-- a step happened in that the reach covers the end of
years as (
    select distinct la_code, year(census_date) - 1 as year from returns
    union
    select distinct stepped.la_code, stepped.year from (
        select la_code, request_year as year from requests where census_date is null
        union
        select la_code, plan_year from requests where plan_issued and census_date is null
        union
        select la_code, assessment_outcome_year from requests
        where (decided_not_to_issue or assessment_withdrawn) and census_date is null
    ) as stepped
    -- a whole year: its last day is within the reach
    inner join reach on reach.la_code = stepped.la_code
        and stepped.year < year({{ dbt.dateadd('day', 1, 'reach.reach_date') }})
    where stepped.year is not null
),

-- the year's requests and what the council decided on them (the DfE's request outcomes)
requested as (
    select
        la_code,
        request_year as year,
        count(*) as requests,
        count(*) filter (where decided_to_assess) as requests_decided_to_assess,
        count(*) filter (where decided_not_to_assess) as requests_decided_not_to_assess,
        count(*) filter (where request_withdrawn) as requests_withdrawn,
        count(*) filter (where plan_issued) as requests_leading_to_plans
    from requests
    group by all
),

-- plans issued in the year, and their timeliness (the DfE's assessments and 20-week tables)
issued as (
    select
        la_code,
        plan_year as year,
        count(*) as plans_issued,
        count(*) filter (where is_within_20_weeks) as plans_issued_within_20_weeks,
        count(*) filter (where has_week20_exception) as plans_issued_with_exception,
        count(*) filter (where not has_week20_exception) as plans_issued_without_exception,
        count(*) filter (where is_within_20_weeks and not has_week20_exception)
            as plans_issued_within_20_weeks_without_exception
    from requests
    where plan_issued
    group by all
),

not_issued as (
    select
        la_code,
        assessment_outcome_year as year,
        count(*) filter (where decided_not_to_issue) as decisions_not_to_issue,
        count(*) filter (where assessment_withdrawn) as assessments_withdrawn
    from requests
    where decided_not_to_issue or assessment_withdrawn
    group by all
)

select
    cast(years.la_code as string) as la_code,
    cast(years.year as integer) as year,
    cast(years.year + 1 as integer) as census_year,
    cast(coalesce(requested.requests, 0) as bigint) as requests,
    cast(coalesce(requested.requests_decided_to_assess, 0) as bigint) as requests_decided_to_assess,
    cast(coalesce(requested.requests_decided_not_to_assess, 0) as bigint) as requests_decided_not_to_assess,
    cast(coalesce(requested.requests_withdrawn, 0) as bigint) as requests_withdrawn,
    {{ percent_of('requested.requests_decided_to_assess', 'requested.requests') }} as decided_to_assess_pct,
    cast(coalesce(issued.plans_issued, 0) as bigint) as plans_issued,
    cast(coalesce(not_issued.decisions_not_to_issue, 0) as bigint) as decisions_not_to_issue,
    cast(coalesce(not_issued.assessments_withdrawn, 0) as bigint) as assessments_withdrawn,
    cast(coalesce(requested.requests_leading_to_plans, 0) as bigint) as requests_leading_to_plans,
    {{ percent_of('requested.requests_leading_to_plans', 'requested.requests') }} as conversion_pct,
    cast(coalesce(issued.plans_issued_within_20_weeks, 0) as bigint) as plans_issued_within_20_weeks,
    cast(coalesce(issued.plans_issued_with_exception, 0) as bigint) as plans_issued_with_exception,
    {{ percent_of('issued.plans_issued_within_20_weeks', 'issued.plans_issued') }} as within_20_weeks_pct,
    {{ percent_of('issued.plans_issued_within_20_weeks_without_exception', 'issued.plans_issued_without_exception') }}
        as within_20_weeks_pct_excluding_exceptions
from years
left join requested on requested.la_code = years.la_code and requested.year = years.year
left join issued on issued.la_code = years.la_code and issued.year = years.year
left join not_issued on not_issued.la_code = years.la_code and not_issued.year = years.year
order by years.la_code, years.year
