{#- Each advisory's decision as the history left it before the run being decided: the latest ledger row
    from an earlier run (to_state is null when the advisory had stopped being listed), and when the
    advisory was first seen. Rows of the run being decided (a re-run with the same clock) are ignored. -#}
with

transitions as (

    select * from {{ ref('stg_history__advisory_transitions') }}

),

current_run as (

    select * from {{ ref('int_pipeline_current_run') }}

),

earlier_transitions as (

    select *
    from transitions
    where as_of < (select as_of from current_run)

),

first_seen as (

    select
        advisory_id,
        min(as_of) as first_seen_at,
        arg_min(run_id, as_of) as first_seen_run_id
    from earlier_transitions
    where to_state is not null
    group by advisory_id

),

latest as (

    select *
    from earlier_transitions
    qualify row_number() over (partition by advisory_id order by as_of desc) = 1

),

final as (

    select
        latest.advisory_id,
        latest.run_id as decided_run_id,
        latest.as_of as decided_at,
        latest.to_state as state,
        latest.state_type,
        latest.rule_id,
        latest.reason_code,
        latest.fixed_version,
        latest.unaffected_from_version,
        latest.confidence,
        latest.deciding_source,
        latest.evidence_signal,
        latest.evidence_version,
        latest.evidence_reason,
        latest.evidence_release,
        latest.evidence_record,
        latest.evidence_date,
        latest.evidence_fetched_at,
        latest.is_evidence_stale,
        latest.to_state is null as is_no_longer_listed,
        first_seen.first_seen_at,
        first_seen.first_seen_run_id
    from latest
    left join first_seen
        on latest.advisory_id = first_seen.advisory_id

)

select * from final
