{#- One row per advisory with its current decision: the first matching rule of the catalogue by priority,
    the explanation rendered from the rule's template and the deciding evidence. -#}
with

advisories as (

    select * from {{ ref('int_echo_advisories_current') }}

),

rule_matches as (

    select * from {{ ref('int_advisory_rule_matches') }}

),

rule_catalogue as (

    select * from {{ ref('rule_catalogue') }}

),

deciding_match as (

    select
        rule_matches.*,
        rule_catalogue.priority,
        rule_catalogue.state,
        rule_catalogue.state_type,
        rule_catalogue.reason_code,
        rule_catalogue.confidence,
        rule_catalogue.vex_status,
        coalesce(rule_matches.vex_justification, rule_catalogue.vex_justification) as decided_vex_justification,
        rule_catalogue.explanation_template
    from rule_matches
    inner join rule_catalogue
        on rule_matches.rule_id = rule_catalogue.rule_id
    qualify row_number() over (partition by rule_matches.advisory_id order by rule_catalogue.priority) = 1

),

explained as (

    select
        deciding_match.*,
        {#- Placeholders of the catalogue's templates, filled from the deciding evidence. -#}
        replace(replace(replace(replace(replace(replace(replace(replace(
            explanation_template,
            '{reason}', coalesce(evidence_reason, '')),
            '{version}', coalesce(evidence_version, '')),
            '{source}', coalesce(deciding_source_name, deciding_source)),
            '{release}', coalesce(evidence_release, 'the releases it tracks')),
            '{record}', coalesce(evidence_record, '')),
            '{date}', coalesce(strftime(evidence_date, '%Y-%m-%d'), 'an unknown date')),
            '{package}', split_part(advisory_id, ':', 1)),
            '{vuln_id}', split_part(advisory_id, ':', 2)
        ) as explanation
    from deciding_match

),

final as (

    select
        advisories.advisory_id,
        advisories.vuln_id as cve_id,
        advisories.package_name,
        advisories.is_temporary_id,
        explained.state,
        explained.state_type,
        case when explained.state = 'fixed' then explained.evidence_version end as fixed_version,
        case when explained.state = 'not_applicable' then explained.evidence_version end as unaffected_from_version,
        explained.confidence,
        explained.explanation,
        explained.reason_code,
        explained.rule_id,
        explained.vex_status,
        explained.decided_vex_justification as vex_justification,
        [explained.deciding_source] as contributing_sources,
        []::varchar[] as dissenting_sources,
        advisories.severity,
        advisories.fixed_version as vendor_fixed_version,
        explained.evidence_release,
        explained.evidence_record,
        explained.evidence_date,
        explained.evidence_fetched_at,
        explained.is_evidence_stale
    from advisories
    inner join explained
        on advisories.advisory_id = explained.advisory_id

)

select * from final
