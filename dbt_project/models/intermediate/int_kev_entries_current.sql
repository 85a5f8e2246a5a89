{#- The entries of the KEV catalogue in use for the run being decided: the snapshot the kev source delivered
    in this run, or its last good one (marked stale) when the fetch failed or was skipped. One row per CVE
    (the adapter keeps a CVE's first entry only). A priority signal: it is joined to the published advisories
    in mart_advisory_current and read by no decision model. -#}
with

entries as (

    select * from {{ ref('stg_kev__known_exploited_vulnerabilities') }}

),

members as (

    select * from {{ ref('stg_landing__snapshot_members') }}

),

selected_snapshot as (

    select * from {{ ref('int_source_snapshots_selected') }}
    where source = 'kev'

),

final as (

    select
        entries.cve_id,
        entries.vendor_project,
        entries.product,
        entries.vulnerability_name,
        entries.short_description,
        entries.date_added,
        entries.due_date,
        entries.required_action,
        entries.known_ransomware_use,
        entries.notes,
        entries.cwes,
        entries.catalog_version,
        entries.catalog_released_at,
        entries.content_hash,
        selected_snapshot.snapshot_fetched_at as fetched_at,
        selected_snapshot.is_stale
    from selected_snapshot
    inner join members
        on selected_snapshot.snapshot_hash = members.snapshot_hash
    inner join entries
        on members.content_hash = entries.content_hash

)

select * from final
