with

source as (

    select * from {{ source('history', 'advisory_transitions') }}

),

renamed as (

    select
        run_id,
        as_of,
        advisory_id,
        from_state,
        to_state,
        state_type,
        rule_id,
        reason_code,
        fixed_version,
        unaffected_from_version,
        confidence,
        deciding_source,
        evidence_signal,
        evidence_version,
        evidence_reason,
        evidence_release,
        evidence_record,
        evidence_date,
        evidence_fetched_at,
        coalesce(is_evidence_stale, false) as is_evidence_stale,
        coalesce(contributing_sources, []::varchar[]) as contributing_sources,
        coalesce(dissenting_sources, []::varchar[]) as dissenting_sources,
        ledger_file,
        ledger_line

    from source

)

select * from renamed
