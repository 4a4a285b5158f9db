with current as (
    {{ current_rows('requests', ['request_id'], by_named_day=true) }}
),

-- less what a later SEN2 return retired (stg_sen2__retired)
source as (
    {{ without_retired('current', 'requests', 'request_id') }}
),

renamed as (
    select
        _la_code as la_code,
        request_id,
        child_id,
        request_date,
        -- a plan is issued only after an assessment: one issued beside a blank decision was
        -- decided (it counted in plans issued and not in decisions to assess, the share of
        -- requests assessed too low and plans issued above assessments)
        decided_to_assess = 'Y'
        or (decided_to_assess is null and (plan_issued = 'Y' or plan_start_date is not null))
            as decided_to_assess,
        decided_to_assess = 'N' as decided_not_to_assess,
        decided_to_assess = 'W' as request_withdrawn,
        decision_date,
        assessment_outcome_date,
        -- a plan start date is a plan issued, whether or not the flag says so
        plan_issued = 'Y' or plan_start_date is not null as plan_issued,
        -- a request never assessed has no decision on a plan: plan_issued N beside a refusal is
        -- how many exports say "no plan", and W beside a withdrawn request its status copied
        (plan_issued = 'N' and coalesce(decided_to_assess, '') not in ('N', 'W'))
            as decided_not_to_issue,
        (plan_issued = 'W' and coalesce(decided_to_assess, '') not in ('N', 'W'))
            as assessment_withdrawn,
        plan_start_date,
        coalesce(week20_exception = 'Y', false) as has_week20_exception,
        census_date,
        _file_hash as source_file_hash,
        _source_file as source_file,
        _source_row as source_row,
        _load_id as load_id
    from source
)

select * from renamed
