{#- Rows of the not-applicable feed whose package/CVE pair is not an advisory in data.json. They decide
    nothing (an override never creates an advisory); the quality stage reports them by CSV line. -#}
with

overrides as (

    select * from {{ ref('int_not_applicable_overrides_current') }}

),

advisories as (

    select * from {{ ref('int_echo_advisories_current') }}

),

final as (

    select
        overrides.csv_line_number,
        overrides.advisory_id,
        overrides.package_name,
        overrides.cve_id,
        overrides.internal_status
    from overrides
    left join advisories
        on overrides.advisory_id = advisories.advisory_id
    where advisories.advisory_id is null

)

select * from final
