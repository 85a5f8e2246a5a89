{#- Upstream observations in effect for the run being decided. A full delivery replaces everything its
    source said before (so a record Debian drops disappears); incremental deliveries after it add or update
    records. Per record, package and release, the newest delivery wins. Observations from a source that
    failed in this run stay in use, marked stale. The upstream sources are whichever sources land
    observations here (each is a source_catalogue row, tested on stg_upstream__observations), so adding one
    needs no change to this model. -#}
with

observations as (

    select * from {{ ref('stg_upstream__observations') }}

),

members as (

    select * from {{ ref('stg_landing__snapshot_members') }}

),

fetches as (

    select * from {{ ref('stg_pipeline__source_fetches') }}

),

runs as (

    select * from {{ ref('stg_pipeline__runs') }}

),

current_run as (

    select * from {{ ref('int_pipeline_current_run') }}

),

selected_snapshots as (

    select * from {{ ref('int_source_snapshots_selected') }}

),

upstream_sources as (

    select distinct source_name as source
    from observations

),

deliveries as (

    select
        fetches.source,
        fetches.snapshot_hash,
        fetches.delivery,
        fetches.fetched_at,
        runs.run_seq
    from fetches
    inner join runs
        on fetches.run_id = runs.run_id
    semi join upstream_sources
        on fetches.source = upstream_sources.source
    where fetches.snapshot_hash is not null
        and runs.run_seq <= (select run_seq from current_run)

),

last_full_delivery as (

    select
        source,
        max(run_seq) as run_seq
    from deliveries
    where delivery = 'full'
    group by source

),

deliveries_in_effect as (

    select deliveries.*
    from deliveries
    left join last_full_delivery
        on deliveries.source = last_full_delivery.source
    where deliveries.run_seq >= coalesce(last_full_delivery.run_seq, 0)

),

observations_in_effect as (

    select
        observations.*,
        deliveries_in_effect.run_seq as delivered_run_seq,
        deliveries_in_effect.fetched_at
    from deliveries_in_effect
    inner join members
        on deliveries_in_effect.snapshot_hash = members.snapshot_hash
    inner join observations
        on members.content_hash = observations.content_hash
        and deliveries_in_effect.source = observations.source_name

),

newest_per_record as (

    select *
    from observations_in_effect
    qualify row_number() over (
        partition by source_name, record_id, coalesce(package_name, ''), coalesce(release, '')
        order by delivered_run_seq desc, upstream_modified_at desc nulls last, content_hash
    ) = 1

),

final as (

    select
        newest_per_record.content_hash,
        newest_per_record.source_name,
        newest_per_record.vuln_id,
        newest_per_record.record_id,
        newest_per_record.aliases,
        newest_per_record.package_name,
        newest_per_record.release,
        newest_per_record.signal,
        newest_per_record.fixed_version,
        newest_per_record.fixed_version_key,
        newest_per_record.urgency,
        newest_per_record.upstream_modified_at,
        newest_per_record.detail,
        newest_per_record.no_dsa_reason,
        newest_per_record.fetched_at,
        {#- When this exact observation was first fetched: stable while the record is unchanged. -#}
        newest_per_record.first_fetched_at,
        coalesce(selected_snapshots.is_stale, true) as is_stale
    from newest_per_record
    left join selected_snapshots
        on newest_per_record.source_name = selected_snapshots.source

)

select * from final
