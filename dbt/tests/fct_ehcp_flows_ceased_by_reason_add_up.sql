{{ config(meta={'dagster': {'ref': {'name': 'fct_ehcp_flows'}}}) }}
-- Fails with one row per council, year and provision type whose ceased plans by cease reason do
-- not add up to its ceased plans.
select la_code, year, provision_type, ceased_plans
from {{ ref('fct_ehcp_flows') }}
where ceased_plans <> ceased_max_age + ceased_needs_met + ceased_he + ceased_employ
    + ceased_transfer + ceased_no_engage + ceased_moved_outside_eng + ceased_deceased
    + ceased_other + ceased_not_rec
