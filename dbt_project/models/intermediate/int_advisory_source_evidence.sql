{#- What each source says about each advisory, for the published evidence list: the signal, the version it
    gives, the release and record it comes from and when it was first fetched (an unchanged observation
    keeps its date, so the published file only changes when the evidence does). One row per advisory and
    source, and for upstream sources one per release the source speaks of (so Debian's status shows per
    release): the observation that decided the state is always among them, since it stands for its release
    (a fix from sid while bookworm is still open lists both). Among several records for one release, the
    deciding one, else the first record id. Internal override codes are not evidence customers see. -#}
with

advisories as (

    select * from {{ ref('int_echo_advisories_current') }}

),

overrides as (

    select * from {{ ref('int_not_applicable_overrides_current') }}

),

upstream as (

    select * from {{ ref('int_upstream_observations_joined_to_advisories') }}

),

decisions as (

    select * from {{ ref('int_advisory_decisions_lifecycle') }}

),

vendor as (

    select
        advisory_id,
        'echo_data' as source,
        case when fixed_version is not null then 'fixed' else 'listed_without_fix' end as signal,
        fixed_version as version,
        null as release,
        null as record,
        null::timestamptz as record_date,
        first_fetched_at as fetched_at,
        is_stale
    from advisories

),

analyst as (

    select
        advisories.advisory_id,
        'echo_csv' as source,
        'not_affected' as signal,
        overrides.unaffected_from_version as version,
        null as release,
        null as record,
        null::timestamptz as record_date,
        overrides.first_fetched_at as fetched_at,
        overrides.is_stale
    from advisories
    inner join overrides
        on advisories.advisory_id = overrides.advisory_id

),

upstream_per_release as (

    select
        upstream.advisory_id,
        upstream.source_name as source,
        upstream.signal,
        upstream.fixed_version as version,
        upstream.release,
        upstream.record_id as record,
        upstream.upstream_modified_at as record_date,
        upstream.first_fetched_at as fetched_at,
        upstream.is_stale,
        upstream.release_preference,
        decisions.advisory_id is not null as is_deciding
    from upstream
    left join decisions
        on upstream.advisory_id = decisions.advisory_id
        and upstream.source_name = decisions.deciding_source
        {#- A record-level verdict (a withdrawn OSV record) names no release: each release of the record. #}
        and (decisions.evidence_release is null or upstream.release = decisions.evidence_release)
        and upstream.record_id is not distinct from decisions.evidence_record
    qualify row_number() over (
        partition by upstream.advisory_id, upstream.source_name, upstream.release
        order by is_deciding desc, upstream.record_id
    ) = 1

),

final as (

    select * from vendor
    union all by name
    select * from analyst
    union all by name
    select * from upstream_per_release

)

select * from final
