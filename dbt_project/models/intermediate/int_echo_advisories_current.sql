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
        {#- When this exact entry was first fetched: stable while the entry is unchanged. -#}
        advisories.first_fetched_at,
        selected_snapshot.is_stale
    from selected_snapshot
    inner join members
        on selected_snapshot.snapshot_hash = members.snapshot_hash
    inner join advisories
        on members.content_hash = advisories.content_hash

)

select * from final
