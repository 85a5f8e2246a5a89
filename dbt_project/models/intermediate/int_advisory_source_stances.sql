{#- Where each source stands on each advisory's decision, one row per advisory and source that says
    anything beyond "listed". A source agrees when one of its rule matches gives the decided state; it
    dissents when its matches only give other states, or when the decision is a fixed version that every
    fixed version the source knows is later than (by dpkg's rules: the source says the published version
    is still vulnerable). The same fact from several releases or records of one source counts once.

    Stances come from rule matches, and each rule's match is taken from its most trusted source (see
    int_advisory_rule_matches): when Debian and OSV both give a fix, only Debian's is weighed. OSV's Debian
    records mirror the tracker, so weighing both would count one fact twice.

    The vendor's fixed version is how data.json publishes "unaffected from" for not-applicable entries, so
    it never counts against a not_applicable decision. A fix that a source gives in an earlier version than
    the decided one is not dissent: both agree the decided version is fixed. -#}
with

rule_matches as (

    select * from {{ ref('int_advisory_rule_matches') }}

),

rule_catalogue as (

    select * from {{ ref('rule_catalogue') }}

),

advisory_states as (

    select * from {{ ref('advisory_states') }}

),

decisions as (

    select * from {{ ref('int_advisory_decisions_lifecycle') }}

),

upstream as (

    select * from {{ ref('int_upstream_observations_joined_to_advisories') }}

),

advisories as (

    select * from {{ ref('int_echo_advisories_current') }}

),

source_fixed_versions as (

    select
        advisory_id,
        source_name as source,
        min(fixed_version_key) as earliest_fixed_version_key,
        list(distinct fixed_version_key) as fixed_version_keys,
        arg_min(fixed_version, fixed_version_key) as earliest_fixed_version
    from upstream
    where signal = 'fixed'
        and fixed_version_key is not null
    group by advisory_id, source_name

    union all by name

    select
        advisory_id,
        'echo_data' as source,
        fixed_version_key as earliest_fixed_version_key,
        [fixed_version_key] as fixed_version_keys,
        fixed_version as earliest_fixed_version
    from advisories
    where fixed_version_key is not null

),

match_states as (

    select
        rule_matches.advisory_id,
        rule_matches.deciding_source as source,
        any_value(rule_matches.deciding_source_name) as source_name,
        bool_or(rule_catalogue.state = decisions.state) as gives_decided_state,
        bool_or(
            rule_catalogue.state <> decisions.state
            and not (rule_matches.rule_id = 'vendor_fixed_version' and decisions.state = 'not_applicable')
        ) as gives_other_state,
        string_agg(distinct advisory_states.label, ', ' order by advisory_states.label)
            filter (
                where rule_catalogue.state <> decisions.state
                and not (rule_matches.rule_id = 'vendor_fixed_version' and decisions.state = 'not_applicable')
            ) as other_state_labels
    from rule_matches
    inner join rule_catalogue
        on rule_matches.rule_id = rule_catalogue.rule_id
    inner join advisory_states
        on rule_catalogue.state = advisory_states.state
    inner join decisions
        on rule_matches.advisory_id = decisions.advisory_id
    where rule_matches.rule_id <> 'no_signal'
    group by rule_matches.advisory_id, rule_matches.deciding_source

),

with_versions as (

    select
        match_states.*,
        coalesce(
            decisions.state = 'fixed'
            and decisions.evidence_version_key is not null
            and not list_contains(source_fixed_versions.fixed_version_keys, decisions.evidence_version_key)
            and source_fixed_versions.earliest_fixed_version_key > decisions.evidence_version_key,
            false
        ) as has_later_fixed_version,
        source_fixed_versions.earliest_fixed_version
    from match_states
    inner join decisions
        on match_states.advisory_id = decisions.advisory_id
    left join source_fixed_versions
        on match_states.advisory_id = source_fixed_versions.advisory_id
        and match_states.source = source_fixed_versions.source

),

final as (

    select
        advisory_id,
        source,
        source_name,
        gives_decided_state and not has_later_fixed_version as agrees,
        not (gives_decided_state and not has_later_fixed_version)
        and (gives_other_state or has_later_fixed_version) as dissents,
        {#- What the dissenting source says instead, in customer words. -#}
        case
            when has_later_fixed_version then 'fixed only from ' || earliest_fixed_version
            else other_state_labels
        end as dissent_position
    from with_versions

)

select * from final
