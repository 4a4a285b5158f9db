-- The census days of the SEN2 returns in the landing folder, each of which reports the requests,
-- assessments and plans of the calendar year before it. Read from every loaded version of every
-- request, not only the current ones: a return whose requests were all repeated by a later
-- return still covers its year.
select distinct files.la_code, valid.census_date
from {{ source('raw', 'requests') }} as valid
inner join {{ source('raw', 'requests_files') }} as files
    on files.file_hash = valid._file_hash
    and files.in_landing
    and files.status = 'loaded'
where valid.census_date is not null
