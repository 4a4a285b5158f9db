-- How the caseload moved from one January census to the next, by child: from (age,
-- provision type) on the earlier census to (age + 1, provision type) on the later one, or to
-- 'left' (no active plan on the later census), or from 'joined' (no active plan on the earlier
-- one). The forecast's cohort model is estimated from this table.
with snapshots as (
    -- one row per child and census: a child with two active plans counts once (the earlier plan)
    select *
    from {{ ref('int_ehcp_census_snapshots') }}
    qualify row_number() over (partition by la_code, census_date, child_id order by plan_start_date, plan_id) = 1
),

pairs as (
    select la_code, census_year, previous_census_year as previous_year from {{ ref('int_census_windows') }}
),

earlier as (
    select pairs.la_code, pairs.census_year, snapshots.child_id, snapshots.age, snapshots.provision_type,
        snapshots.primary_need
    from pairs
    inner join snapshots on snapshots.la_code = pairs.la_code and snapshots.census_year = pairs.previous_year
),

later as (
    select pairs.la_code, pairs.census_year, snapshots.child_id, snapshots.age, snapshots.provision_type,
        snapshots.primary_need
    from pairs
    inner join snapshots on snapshots.la_code = pairs.la_code and snapshots.census_year = pairs.census_year
),

moves as (
    select
        coalesce(later.la_code, earlier.la_code) as la_code,
        coalesce(later.census_year, earlier.census_year) as year,
        earlier.age as age_from,
        coalesce(earlier.provision_type, 'joined') as provision_from,
        later.age as age_to,
        coalesce(later.provision_type, 'left') as provision_to,
        coalesce(earlier.primary_need, later.primary_need) as primary_need
    from earlier
    full outer join later
        on later.la_code = earlier.la_code
        and later.census_year = earlier.census_year and later.child_id = earlier.child_id
)

select
    cast(la_code as string) as la_code,
    cast(year as integer) as year,
    cast(age_from as integer) as age_from,
    cast(provision_from as string) as provision_from,
    cast(age_to as integer) as age_to,
    cast(provision_to as string) as provision_to,
    cast(primary_need as string) as primary_need,
    cast(count(*) as bigint) as children
from moves
group by all
order by all
