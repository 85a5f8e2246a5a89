{#- The vendor's data.json rewritten from the decisions, for scanner integrations that read that shape:
    every package/CVE of the input stays, with the same fields. fixed_version is the decided fixed version
    for fixed advisories; for not-applicable ones it is the version from which scanners treat the package
    as unaffected, or "0" (Debian's convention: no version is affected) when the decision names none;
    other states carry no fixed_version, as the vendor publishes an advisory without a fix. -#}
with

advisories as (

    select * from {{ ref('int_echo_advisories_current') }}

),

decisions as (

    select * from {{ ref('mart_advisory_current') }}

),

final as (

    select
        advisories.package_name,
        advisories.vuln_id,
        decisions.state,
        case
            when decisions.state = 'fixed' then decisions.fixed_version
            when decisions.state = 'not_applicable' then coalesce(decisions.unaffected_from_version, '0')
        end as published_fixed_version,
        advisories.fixed_version as vendor_fixed_version,
        advisories.severity,
        advisories.extra_fields
    from advisories
    inner join decisions
        on advisories.advisory_id = decisions.advisory_id

)

select * from final
