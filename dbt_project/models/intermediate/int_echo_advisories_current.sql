{#- The advisories of the data.json snapshot in use for this run: one row per package and vulnerability. -#}
with

advisories as (

    select * from {{ ref('stg_echo__advisories') }}

),

members as (

    select * from {{ ref('stg_landing__snapshot_members') }}

),

selected_snapshot as (

    select * from {{ ref('int_source_snapshots_selected') }}
    where source = 'echo_data'

),

published as (

    select * from {{ ref('stg_history__published_evidence') }}
    where source = 'echo_data'

),

final as (

    select
        advisories.advisory_id,
        advisories.package_name,
        advisories.vuln_id,
        advisories.is_temporary_id,
        advisories.fixed_version,
        advisories.fixed_version_key,
        advisories.severity,
        advisories.extra_fields,
        advisories.content_hash,
        selected_snapshot.snapshot_fetched_at as fetched_at,
        {#- When this entry, as the published evidence shows it (fixed or listed without a fix, and the
            version), was first fetched: the earlier of the landing date and the date last published for the
            same evidence, so it survives a lost database (stg_history__published_evidence). -#}
        least(advisories.first_fetched_at, published.fetched_at) as first_fetched_at,
        selected_snapshot.is_stale
    from selected_snapshot
    inner join members
        on selected_snapshot.snapshot_hash = members.snapshot_hash
    inner join advisories
        on members.content_hash = advisories.content_hash
    left join published
        on advisories.advisory_id = published.advisory_id
        and published.signal = case when advisories.fixed_version is not null then 'fixed' else 'listed_without_fix' end
        and published.version is not distinct from advisories.fixed_version
        and published.release is null
        and published.record is null

)

select * from final
