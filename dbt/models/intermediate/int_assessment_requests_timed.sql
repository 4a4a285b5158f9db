-- Each request for an EHC needs assessment with the calendar year of each step (SEN2 counts
-- requests, decisions and plans in the year they happened) and whether its plan was issued
-- within the statutory 20 weeks of the request.
with requests as (
    select * from {{ ref('stg_requests__assessment_requests') }}
)

select
    la_code,
    request_id,
    child_id,
    request_date,
    year(request_date) as request_year,
    decided_to_assess,
    decided_not_to_assess,
    request_withdrawn,
    decision_date,
    year(decision_date) as decision_year,
    plan_issued,
    decided_not_to_issue,
    assessment_withdrawn,
    assessment_outcome_date,
    year(assessment_outcome_date) as assessment_outcome_year,
    plan_start_date,
    year(plan_start_date) as plan_year,
    plan_start_date <= cast(request_date + interval 140 day as date) as is_within_20_weeks,
    has_week20_exception,
    census_date,
    source_file,
    source_row
from requests
