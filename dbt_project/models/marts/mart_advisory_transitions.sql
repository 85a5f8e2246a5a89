{#- The decision ledger: every change of an advisory's decision, one row per run and advisory, queryable by
    advisory and by run. Rows of earlier runs come from the history files; this run adds a row for each
    advisory whose state, deciding rule, deciding source or published version changed (from_state is null for an advisory
    seen for the first time or listed again), and one with to_state null for each advisory data.json no
    longer lists. A run that changes nothing adds nothing. The pipeline writes this run's rows to
    history/transitions/<run id>.jsonl. -#}
with

transitions as (

    select * from {{ ref('stg_history__advisory_transitions') }}

),

current_run as (

    select * from {{ ref('int_pipeline_current_run') }}

),

current_decisions as (

    select * from {{ ref('mart_advisory_current') }}

),

previous as (

    select * from {{ ref('int_advisory_decisions_previous') }}

),

earlier_runs as (

    select * exclude (ledger_file, ledger_line)
    from transitions
    where as_of < (select as_of from current_run)

),

changed_this_run as (

    select
        (select run_id from current_run) as run_id,
        (select as_of from current_run) as as_of,
        advisory_id,
        previous_state as from_state,
        state as to_state,
        state_type,
        rule_id,
        reason_code,
        fixed_version,
        unaffected_from_version,
        confidence::double as confidence,
        deciding_source,
        evidence_code as evidence_signal,
        evidence_version,
        evidence_reason,
        evidence_release,
        evidence_record,
        evidence_date,
        {#- The ledger keeps when the deciding evidence was first fetched, as explanations show it. -#}
        evidence_first_fetched_at as evidence_fetched_at,
        is_evidence_stale,
        contributing_sources,
        dissenting_sources
    from current_decisions
    where is_changed_this_run

),

no_longer_listed_this_run as (

    select
        (select run_id from current_run) as run_id,
        (select as_of from current_run) as as_of,
        previous.advisory_id,
        previous.state as from_state,
        null as to_state,
        null as state_type,
        null as rule_id,
        null as reason_code,
        null as fixed_version,
        null as unaffected_from_version,
        null::double as confidence,
        null as deciding_source,
        null as evidence_signal,
        null as evidence_version,
        null as evidence_reason,
        null as evidence_release,
        null as evidence_record,
        null::timestamptz as evidence_date,
        null::timestamptz as evidence_fetched_at,
        false as is_evidence_stale,
        []::varchar[] as contributing_sources,
        []::varchar[] as dissenting_sources
    from previous
    left join current_decisions
        on previous.advisory_id = current_decisions.advisory_id
    where not previous.is_no_longer_listed
        and current_decisions.advisory_id is null

),

final as (

    select * from earlier_runs
    union all by name
    select * from changed_this_run
    union all by name
    select * from no_longer_listed_this_run

)

select * from final
