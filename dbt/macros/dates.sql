{#- Financial year (April–March) of a date, written 2024-25. -#}
{% macro financial_year(date_expr) -%}
    (
        cast(year({{ date_expr }}) - case when month({{ date_expr }}) < {{ var('financial_year_start_month') }} then 1 else 0 end as string)
        || '-'
        || lpad(cast((year({{ date_expr }}) - case when month({{ date_expr }}) < {{ var('financial_year_start_month') }} then 1 else 0 end + 1) % 100 as string), 2, '0')
    )
{%- endmacro %}

{#- First day (1 April) of the financial year labelled like 2024-25. -#}
{% macro financial_year_start(fy_expr) -%}
    make_date(cast(left({{ fy_expr }}, 4) as integer), {{ var('financial_year_start_month') }}, 1)
{%- endmacro %}

{#- The same calendar day as `date_expr` (in the financial year starting in `start_year_expr`) in the
    financial year labelled `fy_expr`, a month's last day when `date_expr` is one: 28 February 2025
    is 29 February 2024 (a count of days from 1 April moved it a day in a leap year, and a
    month-end payment run with it). -#}
{% macro same_day_in_year(date_expr, start_year_expr, fy_expr) -%}
    {#- the years in parentheses: dbt-spark's dateadd writes `interval * 12` for months as it is -#}
    {%- set shifted = dbt.dateadd('year', '(cast(left(' ~ fy_expr ~ ', 4) as integer) - ' ~ start_year_expr ~ ')', date_expr) -%}
    case when {{ date_expr }} = last_day({{ date_expr }}) then last_day({{ shifted }}) else {{ shifted }} end
{%- endmacro %}

{#- Age in whole years on a given date: the difference of the years, less one before the birthday
    (by month and day, so 29 February birthdays turn over on 1 March in other years). Written in
    year/month/day arithmetic both engines agree on: Spark counts a difference of years otherwise. -#}
{% macro age_on(date_of_birth, on_date) -%}
    (
        year({{ on_date }}) - year({{ date_of_birth }})
        - case
            when month({{ on_date }}) < month({{ date_of_birth }})
                or (month({{ on_date }}) = month({{ date_of_birth }}) and day({{ on_date }}) < day({{ date_of_birth }}))
                then 1
            else 0
        end
    )
{%- endmacro %}

{#- Age at 31 August before the academic year that contains the date (the national curriculum
    age: Reception = 4, Year 1 = 5 ... Year 11 = 15). -#}
{% macro curriculum_age(date_of_birth, on_date) -%}
    {{ age_on(date_of_birth,
        "make_date(year(" ~ on_date ~ ") - case when month(" ~ on_date ~ ") < 9 then 1 else 0 end, 8, 31)") }}
{%- endmacro %}

{#- The DfE age bands used for caseload tables. -#}
{% macro age_band(age_expr) -%}
    case
        when {{ age_expr }} < 5 then 'under 5'
        when {{ age_expr }} <= 10 then '5-10'
        when {{ age_expr }} <= 15 then '11-15'
        when {{ age_expr }} <= 19 then '16-19'
        when {{ age_expr }} <= 25 then '20-25'
        else 'over 25'
    end
{%- endmacro %}

{#- Whether a date falls in a census window, a row of int_census_windows (`windows` is its alias):
    after the previous census day and on or before this one, so that an event on census day
    counts in the year that census closes. -#}
{% macro in_census_window(date_expr, windows) -%}
    ({{ date_expr }} > {{ windows }}.period_start and {{ date_expr }} <= {{ windows }}.period_end)
{%- endmacro %}
