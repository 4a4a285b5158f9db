-- The plans and placements an earlier SEN2 return holds that the next return no longer lists,
-- though they were live in its window: the next return retires them when it lists the child's
-- corrected version, else they ended before its window (ended_by: a cease or leaving date
-- recorded late; retired, a plan's every earlier census lost it). A return lists every plan
-- and placement live in the calendar year before its census day up to that day; consecutive
-- returns' windows meet (January 2025's starts on 1 January 2024, before January 2024's census
-- day), so a plan or placement the earlier one shows open at its census, or ending on or after
-- the next one's window began, is in the next one — under its key, or under a corrected one
-- (another start or entry date, establishment, or a child id the child's new UPN gives). Not
-- listed, it was corrected or withdrawn, and kept it would count twice (a child's placement
-- days and new plans) beside its correction. A year missing between two returns retires nothing
-- (the later window does not reach the earlier census, so a record it lists may be a new one, not
-- a correction), but a plan or placement the earlier return shows open that the later one does
-- not list ended before the later window all the same (live in it, it would be listed): it is
-- held to end the day before (ended_by). Kept open, 14 plans ceased in the missing year counted
-- in every census after it. Rows of CSV extracts are never retired.
-- Requests likewise: the next return lists every request received in its window, decided or
-- assessed in it, still open at its start, or whose plan is live in it; one it does not list
-- under the same key (the child and the received date) was corrected where the next return lists
-- the correction: a request of the child's under a key this return does not hold (another
-- received date), or one received the same day by a child this return does not hold (a child id
-- the child's new UPN gives). Kept, it would count a request, a decision and a plan issued twice.
-- With no correction listed it ended before the next window (its plan ceased, or the request was
-- withdrawn, recorded late) and is kept: retired, a 2023 request and its plan left 2023's counts.
with plans as (
    {{ current_rows('ehcp', ['plan_id'], by_named_day=true) }}
),

placements as (
    {{ current_rows('placements', ['placement_id'], by_named_day=true) }}
),

requests as (
    {{ current_rows('requests', ['request_id'], by_named_day=true) }}
),

-- the day each plan is live until (a plan not ceased: for ever), to tell a request whose plan is
-- live in a window
plan_ends as (
    select
        _la_code as la_code,
        child_id,
        plan_start_date,
        max(coalesce(plan_cease_date, cast('9999-12-31' as date))) as live_until
    from plans
    group by _la_code, child_id, plan_start_date
),

-- every request each return lists (before any later return's version replaces it), to tell
-- the requests the next return lists under keys, or for children, this one does not hold
listed_requests as (
    select distinct files.la_code, files.census_date, valid.request_id, valid.child_id,
        valid.request_date
    from {{ source('raw', 'requests') }} as valid
    inner join {{ source('raw', 'requests_files') }} as files
        on files.file_hash = valid._file_hash
        and files.in_landing
        and files.status = 'loaded'
    where files.census_date is not null
),

-- each SEN2 return's census day and the next return's, per council and extract
{% for extract in ['ehcp', 'placements', 'requests'] %}
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

-- what each return lists (before a later return's version of a row replaces it: a plan still
-- live two returns on is in current rows as the latest return's only, and its correction went
-- unseen, a child's placement counted twice), to tell a record it corrected: a plan of the
-- child's that started before the return's window, as the record did (a later one is a new plan
-- after a late cease); a placement of the child's with the same entry date or establishment
-- (another is a move); or, for a child whose id a new UPN changed (a child the return before it
-- does not list), one of the same start date and date of birth / entry date and establishment.
-- Any child's would do otherwise: another child entering the same school the same day retired
-- a placement that had ended late, and its days went uncounted. One row per key each, so the
-- joins below repeat no record
{% for extract, columns in [
    ('ehcp', 'child_id, plan_start_date as started, cast(date_of_birth as string) as same'),
    ('placements', 'child_id, start_date as started, '
        ~ 'cast(coalesce(urn, ukprn, sen_setting) as string) as same'),
] %}
listed_{{ extract }} as (
    select distinct files.la_code, files.census_date, {{ columns }}
    from {{ source('raw', extract) }} as valid
    inner join {{ source('raw', extract ~ '_files') }} as files
        on files.file_hash = valid._file_hash
        and files.in_landing
        and files.status = 'loaded'
    where files.census_date is not null
),
{% endfor %}

-- the children each return lists a plan or placement of
listed_children as (
    select la_code, census_date, child_id from listed_ehcp
    union
    select la_code, census_date, child_id from listed_placements
),

plans_by_child as (
    select la_code, census_date, child_id, min(started) as first_started
    from listed_ehcp
    group by la_code, census_date, child_id
),

placements_by_start as (
    select distinct la_code, census_date, child_id, started
    from listed_placements
),

placements_by_place as (
    select distinct la_code, census_date, child_id, same as place
    from listed_placements
),

{% for rows, extract in [('plans', 'ehcp'), ('placements', 'placements')] %}
{{ rows }}_by_same as (
    select distinct listed.la_code, listed.census_date, listed.started, listed.same
    from listed_{{ extract }} as listed
    inner join {{ extract }}_returns as returns
        on returns.la_code = listed.la_code
        and returns.next_census_date = listed.census_date
    left join listed_children as before
        on before.la_code = listed.la_code
        and before.census_date = returns.census_date
        and before.child_id = listed.child_id
    where before.child_id is null
),
{% endfor %}

-- the requests the next return lists under a key this one does not hold (`child_new`: for a
-- child this one does not hold), by this return's census day
requests_new_in_next as (
    select
        later.la_code,
        returns.census_date as earlier_census_date,
        later.child_id,
        later.request_date,
        children.child_id is null as child_new
    from listed_requests as later
    inner join requests_returns as returns
        on returns.la_code = later.la_code
        and returns.next_census_date = later.census_date
    left join listed_requests as earlier
        on earlier.la_code = later.la_code
        and earlier.census_date = returns.census_date
        and earlier.request_id = later.request_id
    left join (
        select distinct la_code, census_date, child_id from listed_requests
    ) as children
        on children.la_code = later.la_code
        and children.census_date = returns.census_date
        and children.child_id = later.child_id
    where earlier.request_id is null
),

requests_corrected_by_child as (
    select distinct la_code, earlier_census_date, child_id from requests_new_in_next
),

requests_corrected_by_day as (
    select distinct la_code, earlier_census_date, request_date
    from requests_new_in_next
    where child_new
),

retired as (
    {% for extract, rows, key, starts, ends, same_as in [
        ('ehcp', 'plans', 'plan_id', 'plan_start_date', 'plan_cease_date',
            'cast(plans.date_of_birth as string)'),
        ('placements', 'placements', 'placement_id', 'start_date', 'end_date',
            'cast(coalesce(placements.urn, placements.ukprn, placements.sen_setting) as string)'),
    ] %}
    select
        '{{ extract }}' as extract,
        {{ rows }}._la_code as la_code,
        {{ rows }}.{{ key }} as record_id,
        {{ rows }}._census_date as census_date,
        returns.next_census_date as retired_by_census_date,
        -- the next return lists a correction of it (see the CTEs above): retired. Else it
        -- ended before the next window (a cease or leaving date recorded late; a record entered
        -- in error looks the same): kept with its history, ended the day before that window. One
        -- that started in that window was not ended before it: retired
        case
            when {{ rows }}.{{ starts }} > make_date(year(returns.next_census_date) - 2, 12, 31)
                -- a correction only where the next window meets this return's census (with a
                -- year missing between, what the next return lists may have begun in that year)
                or (
                    make_date(year(returns.next_census_date) - 1, 1, 1) <= {{ rows }}._census_date
                    and (
                        {% if extract == 'ehcp' %}
                        by_child.first_started
                            < make_date(year(returns.next_census_date) - 1, 1, 1)
                        {% else %}
                        by_start.la_code is not null
                        or by_place.la_code is not null
                        {% endif %}
                        or by_same.la_code is not null
                    )
                )
            then null
            else make_date(year(returns.next_census_date) - 2, 12, 31)
        end as ended_by,
        {{ rows }}._file_hash as source_file_hash,
        {{ rows }}._source_file as source_file,
        {{ rows }}._source_row as source_row
    from {{ rows }}
    inner join {{ extract }}_returns as returns
        on returns.la_code = {{ rows }}._la_code
        and returns.census_date = {{ rows }}._census_date
    {% if extract == 'ehcp' %}
    left join plans_by_child as by_child
        on by_child.la_code = plans._la_code
        and by_child.census_date = returns.next_census_date
        and by_child.child_id = plans.child_id
    {% else %}
    left join placements_by_start as by_start
        on by_start.la_code = placements._la_code
        and by_start.census_date = returns.next_census_date
        and by_start.child_id = placements.child_id
        and by_start.started = placements.start_date
    left join placements_by_place as by_place
        on by_place.la_code = placements._la_code
        and by_place.census_date = returns.next_census_date
        and by_place.child_id = placements.child_id
        and by_place.place = cast(coalesce(placements.urn, placements.ukprn,
            placements.sen_setting) as string)
    {% endif %}
    left join {{ rows }}_by_same as by_same
        on by_same.la_code = {{ rows }}._la_code
        and by_same.census_date = returns.next_census_date
        and by_same.started = {{ rows }}.{{ starts }}
        and by_same.same = {{ same_as }}
    where returns.next_census_date is not null
        -- the row was live in the next return's window (from 1 January of the year before its
        -- census), as far as this return knows
        and (
            {{ rows }}.{{ ends }} is null
            or {{ rows }}.{{ ends }} >= make_date(year(returns.next_census_date) - 1, 1, 1)
        )
    union all
    {% endfor %}
    select
        'requests' as extract,
        requests._la_code as la_code,
        requests.request_id as record_id,
        requests._census_date as census_date,
        returns.next_census_date as retired_by_census_date,
        cast(null as date) as ended_by,
        requests._file_hash as source_file_hash,
        requests._source_file as source_file,
        requests._source_row as source_row
    from requests
    left join plan_ends
        on plan_ends.la_code = requests._la_code
        and plan_ends.child_id = requests.child_id
        and plan_ends.plan_start_date = requests.plan_start_date
    inner join requests_returns as returns
        on returns.la_code = requests._la_code
        and returns.census_date = requests._census_date
    left join requests_corrected_by_child as by_child
        on by_child.la_code = requests._la_code
        and by_child.earlier_census_date = requests._census_date
        and by_child.child_id = requests.child_id
    left join requests_corrected_by_day as by_day
        on by_day.la_code = requests._la_code
        and by_day.earlier_census_date = requests._census_date
        and by_day.request_date = requests.request_date
    where returns.next_census_date is not null
        and (by_child.la_code is not null or by_day.la_code is not null)
        and make_date(year(returns.next_census_date) - 1, 1, 1) <= requests._census_date
        and (
            -- received, decided or assessed in the next return's window
            requests.request_date >= make_date(year(returns.next_census_date) - 1, 1, 1)
            or requests.decision_date >= make_date(year(returns.next_census_date) - 1, 1, 1)
            or requests.assessment_outcome_date
                >= make_date(year(returns.next_census_date) - 1, 1, 1)
            -- still open at this return's census: no decision, or assessed with no outcome
            or requests.decided_to_assess is null
            or (requests.decided_to_assess = 'Y' and requests.plan_issued is null)
            -- its plan live in the next return's window
            or plan_ends.live_until >= make_date(year(returns.next_census_date) - 1, 1, 1)
        )
)

select
    cast(la_code as string) as la_code,
    cast(extract as string) as extract,
    cast(record_id as string) as record_id,
    census_date,
    retired_by_census_date,
    ended_by,
    cast(source_file_hash as string) as source_file_hash,
    cast(source_file as string) as source_file,
    source_row
from retired
