{#- Each upstream observation that speaks about an advisory: Debian and OSV observations by package and
    vulnerability id, NVD observations (package-agnostic) by vulnerability id. Releases are ranked by the
    preference in the debian_releases seed; they arrive as Debian codenames, the adapters' one vocabulary
    (the OSV adapter names `Debian:12` bookworm as it parses, because it keeps only the configured releases). -#}
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

ranked as (

    select
        joined.*,
        debian_releases.preference as release_preference
    from joined
    left join debian_releases
        on joined.release = debian_releases.release

),

final as (

    select
        ranked.advisory_id,
        ranked.source_name,
        source_catalogue.display_name as source_display_name,
        source_catalogue.precedence as source_precedence,
        ranked.record_id,
        ranked.aliases,
        ranked.vuln_id,
        ranked.package_name,
        ranked.release,
        ranked.release_preference,
        ranked.signal,
        ranked.fixed_version,
        ranked.fixed_version_key,
        ranked.urgency,
        ranked.upstream_modified_at,
        ranked.detail,
        ranked.no_dsa_reason,
        ranked.fetched_at,
        {#- When this observation, as the published evidence shows it (signal, version, release and record),
            was first fetched: the earlier of the landing date and the date last published for the same
            evidence, so it survives a lost database (stg_history__published_evidence). Only the release and
            record the evidence showed can match; the others keep their landing date. -#}
        least(ranked.first_fetched_at, published.fetched_at) as first_fetched_at,
        ranked.is_stale
    from ranked
    left join source_catalogue
        on ranked.source_name = source_catalogue.source
    left join published
        on ranked.advisory_id = published.advisory_id
        and ranked.source_name = published.source
        and ranked.signal = published.signal
        and ranked.fixed_version is not distinct from published.version
        and ranked.release is not distinct from published.release
        and ranked.record_id is not distinct from published.record

)

select * from final
