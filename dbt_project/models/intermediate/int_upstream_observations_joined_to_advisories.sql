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

published as (

    select * from {{ ref('stg_history__published_evidence') }}

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

normalised as (

    select
        joined.* exclude (release),
        coalesce(debian_releases.release, joined.release) as release,
        debian_releases.preference as release_preference
    from joined
    left join debian_releases
        on joined.release = debian_releases.release
        or joined.release = debian_releases.osv_ecosystem

),

final as (

    select
        normalised.advisory_id,
        normalised.source_name,
        source_catalogue.display_name as source_display_name,
        source_catalogue.precedence as source_precedence,
        normalised.record_id,
        normalised.vuln_id,
        normalised.package_name,
        normalised.release,
        normalised.release_preference,
        normalised.signal,
        normalised.fixed_version,
        normalised.fixed_version_key,
        normalised.urgency,
        normalised.upstream_modified_at,
        normalised.detail,
        normalised.fetched_at,
        {#- When this observation, as the published evidence shows it (signal, version, release and record),
            was first fetched: the earlier of the landing date and the date last published for the same
            evidence, so it survives a lost database (stg_history__published_evidence). Only the release and
            record the evidence showed can match; the others keep their landing date. -#}
        least(normalised.first_fetched_at, published.fetched_at) as first_fetched_at,
        normalised.is_stale
    from normalised
    left join source_catalogue
        on normalised.source_name = source_catalogue.source
    left join published
        on normalised.advisory_id = published.advisory_id
        and normalised.source_name = published.source
        and normalised.signal = published.signal
        and normalised.fixed_version is not distinct from published.version
        and normalised.release is not distinct from published.release
        and normalised.record_id is not distinct from published.record

)

select * from final
