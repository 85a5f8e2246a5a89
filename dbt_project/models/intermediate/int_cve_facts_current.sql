{#- The CVE facts in effect for the run being decided, chosen exactly as int_upstream_observations_current
    chooses observations (the facts are members of the same snapshots): a full delivery replaces what its
    source said before, incremental deliveries after it add or update records, and per source, record and
    package the newest delivery wins. Facts from a source that failed in this run stay in use, marked stale. -#}
with

nvd_records as (

    select * from {{ ref('stg_nvd__cve_records') }}

),

tracker_descriptions as (

    select * from {{ ref('stg_debian_tracker__descriptions') }}

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

facts as (

    select
        content_hash,
        source_name,
        vuln_id,
        record_id,
        null::varchar as package_name,
        description,
        vuln_status,
        published_at,
        last_modified_at,
        cvss,
        cwes,
        reference_links
    from nvd_records
    union all by name
    select
        content_hash,
        source_name,
        vuln_id,
        record_id,
        package_name,
        description,
        null::varchar as vuln_status,
        null::timestamptz as published_at,
        null::timestamptz as last_modified_at,
        null as cvss,
        null as cwes,
        null as reference_links
    from tracker_descriptions

),

deliveries as (

    select
        fetches.source,
        fetches.snapshot_hash,
        fetches.delivery,
        runs.run_seq
    from fetches
    inner join runs
        on fetches.run_id = runs.run_id
    where fetches.snapshot_hash is not null
        and fetches.source in ('nvd', 'debian_tracker')
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

facts_in_effect as (

    select
        facts.*,
        deliveries_in_effect.run_seq as delivered_run_seq
    from deliveries_in_effect
    inner join members
        on deliveries_in_effect.snapshot_hash = members.snapshot_hash
    inner join facts
        on members.content_hash = facts.content_hash
        and deliveries_in_effect.source = facts.source_name

),

newest_per_record as (

    select *
    from facts_in_effect
    qualify row_number() over (
        partition by source_name, record_id, coalesce(package_name, '')
        order by delivered_run_seq desc, last_modified_at desc nulls last, content_hash
    ) = 1

),

final as (

    select
        newest_per_record.content_hash,
        newest_per_record.source_name,
        newest_per_record.vuln_id,
        newest_per_record.record_id,
        newest_per_record.package_name,
        newest_per_record.description,
        newest_per_record.vuln_status,
        newest_per_record.published_at,
        newest_per_record.last_modified_at,
        newest_per_record.cvss,
        newest_per_record.cwes,
        newest_per_record.reference_links,
        coalesce(selected_snapshots.is_stale, true) as is_stale
    from newest_per_record
    left join selected_snapshots
        on newest_per_record.source_name = selected_snapshots.source

)

select * from final
