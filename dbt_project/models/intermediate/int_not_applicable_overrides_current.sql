{#- The rows of the not-applicable feed in use for this run, with their CSV line numbers. -#}
with

overrides as (

    select * from {{ ref('stg_echo__not_applicable_overrides') }}

),

members as (

    select * from {{ ref('stg_landing__snapshot_members') }}

),

selected_snapshot as (

    select * from {{ ref('int_source_snapshots_selected') }}
    where source = 'echo_csv'

),

published as (

    select * from {{ ref('stg_history__published_evidence') }}
    where source = 'echo_csv'

),

final as (

    select
        overrides.advisory_id,
        overrides.package_name,
        overrides.cve_id,
        overrides.unaffected_from_version,
        overrides.internal_status,
        members.position as csv_line_number,
        selected_snapshot.snapshot_fetched_at as fetched_at,
        {#- When this row, as the published evidence shows it (not_affected from a version), was first
            fetched: the earlier of the landing date and the date last published for the same evidence, so it
            survives a lost database (stg_history__published_evidence). -#}
        least(overrides.first_fetched_at, published.fetched_at) as first_fetched_at,
        selected_snapshot.is_stale
    from selected_snapshot
    inner join members
        on selected_snapshot.snapshot_hash = members.snapshot_hash
    inner join overrides
        on members.content_hash = overrides.content_hash
    left join published
        on overrides.advisory_id = published.advisory_id
        and published.signal = 'not_affected'
        and published.version is not distinct from overrides.unaffected_from_version
        and published.release is null
        and published.record is null

)

select * from final
