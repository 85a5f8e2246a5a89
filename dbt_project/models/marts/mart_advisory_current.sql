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

{#- Every other matching rule is a source's stance on the advisory. A source agrees when one of its
    matches implies the decided state, and dissents when its matches only imply other states. The vendor's
    fixed version is how data.json publishes "unaffected from" for not-applicable entries, so it never
    counts against a not_applicable decision. -#}
source_stances as (

    select
        rule_matches.advisory_id,
        rule_matches.deciding_source as source,
        any_value(rule_matches.deciding_source_name) as source_name,
        bool_or(rule_catalogue.state = deciding_match.state) as agrees,
        bool_or(
            rule_catalogue.state <> deciding_match.state
            and not (rule_matches.rule_id = 'vendor_fixed_version' and deciding_match.state = 'not_applicable')
        ) as disagrees,
        string_agg(distinct rule_catalogue.state, ', ' order by rule_catalogue.state)
            filter (where rule_catalogue.state <> deciding_match.state) as other_states
    from rule_matches
    inner join rule_catalogue
        on rule_matches.rule_id = rule_catalogue.rule_id
    inner join deciding_match
        on rule_matches.advisory_id = deciding_match.advisory_id
    where rule_matches.rule_id <> 'no_signal'
    group by rule_matches.advisory_id, rule_matches.deciding_source

),

stances_per_advisory as (

    select
        advisory_id,
        list_sort(list(source) filter (where agrees)) as agreeing_sources,
        list_sort(list(source) filter (where disagrees and not agrees)) as dissenting_sources,
        string_agg(source_name || ' (' || other_states || ')', ', ' order by source)
            filter (where disagrees and not agrees) as dissent_summary
    from source_stances
    group by advisory_id

),

explained as (

    select
        deciding_match.*,
        coalesce(stances_per_advisory.dissenting_sources, []::varchar[]) as dissenting_sources,
        case
            when len(coalesce(stances_per_advisory.agreeing_sources, [])) > 0 then stances_per_advisory.agreeing_sources
            else [deciding_match.deciding_source]
        end as contributing_sources,
        {#- Each dissenting source and stale deciding evidence lower the rule's confidence. -#}
        greatest(
            0.05,
            round(
                deciding_match.confidence
                - 0.15 * len(coalesce(stances_per_advisory.dissenting_sources, []))
                - case when deciding_match.is_evidence_stale then 0.10 else 0 end,
                2
            )
        )::decimal(3, 2) as adjusted_confidence,
        case
            when stances_per_advisory.dissent_summary is not null
                then ' Not every source agrees: ' || stances_per_advisory.dissent_summary
                    || case when len(stances_per_advisory.dissenting_sources) > 1 then ' point' else ' points' end
                    || ' to a different state.'
            else ''
        end
        || case
            when deciding_match.is_evidence_stale
                then ' The deciding data from ' || coalesce(deciding_match.deciding_source_name, deciding_match.deciding_source)
                    || ' was fetched on ' || coalesce(strftime(deciding_match.evidence_fetched_at, '%Y-%m-%d'), 'an earlier run')
                    || ', because its latest fetch failed.'
            else ''
        end as explanation_caveats,
        {#- Placeholders of the catalogue's templates, filled from the deciding evidence. -#}
        replace(replace(replace(replace(replace(replace(replace(replace(
            explanation_template,
            '{reason}', coalesce(evidence_reason, '')),
            '{version}', coalesce(evidence_version, '')),
            '{source}', coalesce(deciding_source_name, deciding_source)),
            '{release}', coalesce(evidence_release, 'the releases it tracks')),
            '{record}', coalesce(evidence_record, '')),
            '{date}', coalesce(strftime(evidence_date, '%Y-%m-%d'), 'an unknown date')),
            '{package}', split_part(deciding_match.advisory_id, ':', 1)),
            '{vuln_id}', split_part(deciding_match.advisory_id, ':', 2)
        ) as explanation_sentence
    from deciding_match
    left join stances_per_advisory
        on deciding_match.advisory_id = stances_per_advisory.advisory_id

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
        explained.adjusted_confidence as confidence,
        explained.explanation_sentence || explained.explanation_caveats as explanation,
        explained.reason_code,
        explained.rule_id,
        explained.vex_status,
        explained.decided_vex_justification as vex_justification,
        explained.contributing_sources,
        explained.dissenting_sources,
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
