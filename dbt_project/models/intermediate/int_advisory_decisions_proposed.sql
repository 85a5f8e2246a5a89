{#- What the rules say now, before the lifecycle is applied: for each advisory the first matching rule of
    the catalogue by priority, with its evidence. -#}
with

rule_matches as (

    select * from {{ ref('int_advisory_rule_matches') }}

),

rule_catalogue as (

    select * from {{ ref('rule_catalogue') }}

),

final as (

    select
        rule_matches.advisory_id,
        rule_matches.rule_id,
        rule_catalogue.priority,
        rule_catalogue.state,
        rule_catalogue.state_type,
        rule_catalogue.reason_code,
        rule_matches.deciding_source,
        rule_matches.evidence_code,
        rule_matches.evidence_version,
        rule_matches.evidence_version_key,
        rule_matches.evidence_reason,
        rule_matches.evidence_release,
        rule_matches.evidence_record,
        rule_matches.evidence_date,
        rule_matches.evidence_fetched_at,
        rule_matches.evidence_first_fetched_at,
        rule_matches.is_evidence_stale,
        rule_matches.vex_justification
    from rule_matches
    inner join rule_catalogue
        on rule_matches.rule_id = rule_catalogue.rule_id
    qualify row_number() over (partition by rule_matches.advisory_id order by rule_catalogue.priority) = 1

)

select * from final
