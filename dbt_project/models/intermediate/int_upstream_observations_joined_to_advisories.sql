{#- Each upstream observation that speaks about an advisory: Debian and OSV observations by package and
    vulnerability id, NVD observations (package-agnostic) by vulnerability id. Releases are normalised to
    Debian codenames and ranked by the preference in the debian_releases seed. -#}
with

advisories as (

    select * from {{ ref('int_echo_advisories_current') }}

),

observations as (

    select * from {{ ref('int_upstream_observations_current') }}

),

debian_releases as (

    select * from {{ ref('debian_releases') }}

),

source_catalogue as (

    select * from {{ ref('source_catalogue') }}

),

package_specific as (

    select
        advisories.advisory_id,
        observations.*
    from advisories
    inner join observations
        on advisories.package_name = observations.package_name
        and advisories.vuln_id = observations.vuln_id
    where observations.package_name is not null

),

package_agnostic as (

    select
        advisories.advisory_id,
        observations.*
    from advisories
    inner join observations
        on advisories.vuln_id = observations.vuln_id
    where observations.package_name is null

),

joined as (

    select * from package_specific
    union all by name
    select * from package_agnostic

),

final as (

    select
        joined.advisory_id,
        joined.source_name,
        source_catalogue.display_name as source_display_name,
        source_catalogue.precedence as source_precedence,
        joined.record_id,
        joined.vuln_id,
        joined.package_name,
        coalesce(debian_releases.release, joined.release) as release,
        debian_releases.preference as release_preference,
        joined.signal,
        joined.fixed_version,
        joined.fixed_version_key,
        joined.urgency,
        joined.upstream_modified_at,
        joined.detail,
        joined.fetched_at,
        joined.first_fetched_at,
        joined.is_stale
    from joined
    left join debian_releases
        on joined.release = debian_releases.release
        or joined.release = debian_releases.osv_ecosystem
    left join source_catalogue
        on joined.source_name = source_catalogue.source

)

select * from final
