{#- One row per advisory listed in data.json with its current decision: state, rule, reason, confidence,
    the customer-facing explanation (the rule's template filled from the deciding evidence, plus what a
    customer should know about dissent, stale data or a retained decision), the sources that agree and
    dissent, the evidence of every source, and when the decision was made and the advisory first seen. -#}
with

advisories as (

    select * from {{ ref('int_echo_advisories_current') }}

),

decisions as (

    select * from {{ ref('int_advisory_decisions_lifecycle') }}

),

stances as (

    select * from {{ ref('int_advisory_source_stances') }}

),

evidence as (

    select * from {{ ref('int_advisory_source_evidence') }}

),

source_catalogue as (

    select * from {{ ref('source_catalogue') }}

),

known_exploited as (

    select * from {{ ref('int_kev_entries_current') }}

),

{#- Lists are sorted after aggregating rather than by an ordered aggregate, which buffers every group's rows
    before sorting them; this form built under the memory cap at 25× the vendor's data. A source appears once
    per advisory (tested), so sorting the (source, text) entries orders them by source. -#}
stances_per_advisory as (

    select
        advisory_id,
        list_sort(list(source) filter (where agrees)) as agreeing_sources,
        list_sort(list(source) filter (where dissents)) as dissenting_sources,
        list_sort(
            list({'source': source, 'text': source_name || ' (' || dissent_position || ')'}) filter (where dissents)
        ) as dissents
    from stances
    group by advisory_id

),

{#- Each advisory's evidence list is pivoted (one column per source and release, then made a list), not
    aggregated with list(): at a million advisories list() failed for lack of memory under a 2 GB cap, and
    the pivot built under it (any_value per source and release keeps one entry per group, not a growing
    list). A source appears once per advisory and release (tested); each entry carries a key that orders the
    list by source, then release by preference (bookworm, trixie, sid), and is dropped once sorted. -#}
evidence_by_source as (

    pivot (
        select
            advisory_id,
            source || '/' || coalesce(release, '') as slot,
            {
                'sort_key': source || '/' || coalesce(lpad(release_preference::varchar, 4, '0'), '9999') || '/'
                    || coalesce(release, ''),
                'entry': {
                    'source': source,
                    'signal': signal,
                    'version': version,
                    'release': release,
                    'record': record,
                    'record_date': strftime(record_date, '%Y-%m-%dT%H:%M:%SZ'),
                    'fetched_at': strftime(fetched_at, '%Y-%m-%dT%H:%M:%SZ'),
                    'stale': is_stale
                }
            } as keyed_entry
        from evidence
    )
    on slot
    using any_value(keyed_entry)
    group by advisory_id

),

evidence_slots as (

    select
        advisory_id,
        list_value(*columns(* exclude (advisory_id))) as slots
    from evidence_by_source

),

evidence_per_advisory as (

    select
        advisory_id,
        list_transform(
            list_sort(list_filter(slots, lambda keyed: keyed is not null)),
            lambda keyed: keyed.entry
        ) as evidence
    from evidence_slots

),

explained as (

    select
        decisions.*,
        deciding_source.display_name as deciding_source_name,
        coalesce(stances_per_advisory.dissenting_sources, []::varchar[]) as dissenting_sources,
        case
            when len(coalesce(stances_per_advisory.agreeing_sources, [])) > 0 then stances_per_advisory.agreeing_sources
            else [decisions.deciding_source]
        end as contributing_sources,
        {#- Each dissenting source, stale deciding evidence and a retained decision lower the rule's confidence. -#}
        greatest(
            0.05,
            round(
                decisions.rule_confidence
                - 0.15 * len(coalesce(stances_per_advisory.dissenting_sources, []))
                - case when decisions.is_evidence_stale then 0.10 else 0 end
                - case when decisions.is_retained then 0.10 else 0 end,
                2
            )
        )::decimal(3, 2) as confidence,
        {{ render_explanation(
            'decisions.explanation_template', 'decisions.advisory_id', 'deciding_source.display_name',
            'decisions.evidence_version', 'decisions.evidence_reason', 'decisions.evidence_release',
            'decisions.evidence_record', 'decisions.evidence_date', 'decisions.evidence_first_fetched_at'
        ) }}
        || case
            when len(stances_per_advisory.dissents) > 0
                then ' Not every source agrees: '
                    || array_to_string(list_transform(stances_per_advisory.dissents, lambda dissent: dissent.text), ', ')
                    || '.'
            else ''
        end
        || case
            when decisions.is_retained
                then ' ' || coalesce(deciding_source.display_name, decisions.deciding_source)
                    || ' no longer lists this advisory; the decision of '
                    || strftime(decisions.decided_at, '%Y-%m-%d')
                    || ' stands until a source says otherwise.'
            when decisions.is_evidence_stale
                then ' The deciding data from ' || coalesce(deciding_source.display_name, decisions.deciding_source)
                    || ' was fetched on ' || coalesce(strftime(decisions.evidence_fetched_at, '%Y-%m-%d'), 'an earlier run')
                    || ', because its latest fetch failed.'
            else ''
        end as explanation
    from decisions
    left join stances_per_advisory
        on decisions.advisory_id = stances_per_advisory.advisory_id
    left join source_catalogue as deciding_source
        on decisions.deciding_source = deciding_source.source

),

final as (

    select
        advisories.advisory_id,
        advisories.vuln_id as cve_id,
        advisories.package_name,
        advisories.is_temporary_id,
        explained.state,
        explained.state_type,
        explained.fixed_version,
        explained.unaffected_from_version,
        explained.confidence,
        explained.explanation,
        explained.reason_code,
        explained.rule_id,
        explained.vex_status,
        explained.decided_vex_justification as vex_justification,
        explained.contributing_sources,
        explained.dissenting_sources,
        explained.deciding_source,
        explained.is_retained,
        explained.decided_at,
        explained.decided_run_id,
        explained.first_seen_at,
        explained.first_seen_run_id,
        explained.is_changed_this_run,
        explained.previous_state,
        explained.previous_rule_id,
        coalesce(evidence_per_advisory.evidence, []) as evidence,
        case
            when known_exploited.cve_id is not null then {
                'date_added': strftime(known_exploited.date_added, '%Y-%m-%d'),
                'due_date': strftime(known_exploited.due_date, '%Y-%m-%d'),
                'ransomware_use': known_exploited.known_ransomware_use,
                'vulnerability_name': known_exploited.vulnerability_name,
                'required_action': known_exploited.required_action,
                'catalog_version': known_exploited.catalog_version
            }
        end as known_exploited,
        advisories.severity,
        advisories.fixed_version as vendor_fixed_version,
        explained.evidence_code,
        explained.evidence_version,
        explained.evidence_reason,
        explained.evidence_release,
        explained.evidence_record,
        explained.evidence_date,
        explained.evidence_fetched_at,
        explained.evidence_first_fetched_at,
        explained.is_evidence_stale
    from advisories
    inner join explained
        on advisories.advisory_id = explained.advisory_id
    left join evidence_per_advisory
        on advisories.advisory_id = evidence_per_advisory.advisory_id
    {# One catalogue entry per CVE at most (tested on int_kev_entries_current), so no advisory is doubled. #}
    left join known_exploited
        on advisories.vuln_id = known_exploited.cve_id

)

select * from final
