{#- Slowly changing dimension (type 2) of advisory decisions: one row per advisory per decision period,
    valid from the run that made the decision until the run that changed it or stopped listing the
    advisory (valid_to null: the period is current). "As of run R" is valid_from <= R's clock < valid_to.
    Built from the ledger, so it is the same on a machine that restored history from the files. -#}
with

transitions as (

    select * from {{ ref('mart_advisory_transitions') }}

),

rule_catalogue as (

    select * from {{ ref('rule_catalogue') }}

),

source_catalogue as (

    select * from {{ ref('source_catalogue') }}

),

ordered as (

    select
        *,
        lead(as_of) over (partition by advisory_id order by as_of) as next_as_of,
        lead(run_id) over (partition by advisory_id order by as_of) as next_run_id
    from transitions

),

final as (

    select
        ordered.advisory_id,
        split_part(ordered.advisory_id, ':', 1) as package_name,
        split_part(ordered.advisory_id, ':', 2) as cve_id,
        ordered.to_state as state,
        ordered.state_type,
        ordered.rule_id,
        ordered.reason_code,
        ordered.fixed_version,
        ordered.unaffected_from_version,
        ordered.confidence,
        ordered.from_state as previous_state,
        ordered.deciding_source,
        {{ render_explanation(
            'rule_catalogue.explanation_template', 'ordered.advisory_id', 'source_catalogue.display_name',
            'ordered.evidence_version', 'ordered.evidence_reason', 'ordered.evidence_release',
            'ordered.evidence_record', 'ordered.evidence_date', 'ordered.evidence_fetched_at'
        ) }} as explanation,
        ordered.evidence_signal,
        ordered.evidence_version,
        ordered.evidence_release,
        ordered.evidence_record,
        ordered.evidence_fetched_at,
        ordered.as_of as valid_from,
        ordered.next_as_of as valid_to,
        ordered.run_id as valid_from_run_id,
        ordered.next_run_id as valid_to_run_id,
        ordered.next_as_of is null as is_current
    from ordered
    left join rule_catalogue
        on ordered.rule_id = rule_catalogue.rule_id
    left join source_catalogue
        on ordered.deciding_source = source_catalogue.source
    where ordered.to_state is not null

)

select * from final
