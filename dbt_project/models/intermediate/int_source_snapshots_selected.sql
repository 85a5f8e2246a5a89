{#- For the run being decided, the snapshot each source contributes: the one it delivered in this run, or,
    when it failed or was not fetched, its last good snapshot, marked stale (unless it was skipped on
    purpose with --source). Nothing is silently dropped. -#}
{#- A view, not a table: the run summary reads each source's health for the run being made from it, also
    in a run that kept the previous run's decisions without running dbt (pipeline/history/decision-inputs.ts). -#}
{{ config(materialized='view') }}

with

runs as (

    select * from {{ ref('stg_pipeline__runs') }}

),

fetches as (

    select * from {{ ref('stg_pipeline__source_fetches') }}

),

current_run as (

    select * from {{ ref('int_pipeline_current_run') }}

),

fetches_up_to_current_run as (

    select
        fetches.source,
        fetches.snapshot_hash,
        fetches.fetched_at,
        fetches.run_id,
        runs.run_seq
    from fetches
    inner join runs
        on fetches.run_id = runs.run_id
    where fetches.snapshot_hash is not null
        and runs.run_seq <= (select run_seq from current_run)

),

latest_good_snapshot as (

    select *
    from fetches_up_to_current_run
    qualify row_number() over (partition by source order by run_seq desc) = 1

),

fetch_in_current_run as (

    select
        source,
        fetch_status,
        error_message
    from fetches
    where run_id = (select run_id from current_run)

),

final as (

    select
        latest_good_snapshot.source,
        latest_good_snapshot.snapshot_hash,
        latest_good_snapshot.run_id as snapshot_run_id,
        latest_good_snapshot.fetched_at as snapshot_fetched_at,
        coalesce(fetch_in_current_run.fetch_status, 'not_fetched') as fetch_status_this_run,
        fetch_in_current_run.error_message as error_this_run,
        {#- A source left out on purpose (--source) keeps its data without it counting as stale. -#}
        latest_good_snapshot.run_id <> (select run_id from current_run)
        and coalesce(fetch_in_current_run.fetch_status, 'not_fetched') <> 'skipped' as is_stale
    from latest_good_snapshot
    left join fetch_in_current_run
        on latest_good_snapshot.source = fetch_in_current_run.source

)

select * from final
