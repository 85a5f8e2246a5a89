{#- Every source's evidence on a published advisory is in its evidence list: the list is pivoted from one
    column per source and release, and a source the pivot missed would drop out of the published evidence silently.
    (advisory_id, source, release) is unique in the evidence, so equal counts mean nothing is missing or
    doubled. -#}
with

listed as (

    select coalesce(sum(len(evidence)), 0) as entries
    from {{ ref('mart_advisory_current') }}

),

expected as (

    select count(*) as entries
    from {{ ref('int_advisory_source_evidence') }} as evidence
    semi join {{ ref('mart_advisory_current') }} as advisories
        on evidence.advisory_id = advisories.advisory_id

)

select
    listed.entries as listed_entries,
    expected.entries as expected_entries
from listed
cross join expected
where listed.entries != expected.entries
