{#- What each source says about each advisory, one row per advisory and source, for the published
    evidence list: the signal, the version it gives, the release and record it comes from and when it was
    first fetched (an unchanged observation keeps its date, so the published file only changes when the
    evidence does). For sources with several releases or records, the most preferred release (then the record id)
    stands for the source. Internal override codes are not evidence customers see. -#}
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

upstream_preferred as (

    select
        advisory_id,
        source_name as source,
        signal,
        fixed_version as version,
        release,
        record_id as record,
        upstream_modified_at as record_date,
        first_fetched_at as fetched_at,
        is_stale
    from upstream
    qualify row_number() over (
        partition by advisory_id, source_name
        order by release_preference nulls last, record_id, release
    ) = 1

),

final as (

    select * from vendor
    union all by name
    select * from analyst
    union all by name
    select * from upstream_preferred

)

select * from final
