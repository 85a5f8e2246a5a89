{#- The decision each advisory holds after the lifecycle is applied to what the rules propose.

    A decision is retained, rather than replaced by a lower-priority proposal, when the source that made it
    has gone silent about the advisory: an upstream record that stops appearing (a tracker entry dropped,
    an OSV record missing from a delivery) is noise, not evidence. So a final state is not reopened by it,
    and a pending one does not fall back to under investigation.

    It is re-decided when an input that produced it changed: the source still speaks about the advisory but
    no longer says the same (a CVE reinstated, Debian reopening a fix), or the source lists everything it
    knows each time and the advisory's entry changed or went (an override row removed from the CSV, a fixed
    version withdrawn from data.json). A higher-priority rule always decides (an override added, a CVE
    rejected). A failed source is not silent: its last good data still counts, marked stale. -#}
with

proposed as (

    select * from {{ ref('int_advisory_decisions_proposed') }}

),

previous as (

    select * from {{ ref('int_advisory_decisions_previous') }}

),

rule_catalogue as (

    select * from {{ ref('rule_catalogue') }}

),

source_catalogue as (

    select * from {{ ref('source_catalogue') }}

),

current_run as (

    select * from {{ ref('int_pipeline_current_run') }}

),

sources_speaking as (

    select distinct
        advisory_id,
        source_name
    from {{ ref('int_upstream_observations_joined_to_advisories') }}

),

previous_basis as (

    select
        previous.*,
        rule_catalogue.priority as previous_priority,
        coalesce(source_catalogue.is_complete_listing, true) as is_previous_source_complete_listing,
        sources_speaking.advisory_id is not null as is_previous_source_speaking
    from previous
    left join rule_catalogue
        on previous.rule_id = rule_catalogue.rule_id
    left join source_catalogue
        on previous.deciding_source = source_catalogue.source
    left join sources_speaking
        on previous.advisory_id = sources_speaking.advisory_id
        and previous.deciding_source = sources_speaking.source_name
    where not previous.is_no_longer_listed

),

retention as (

    select
        proposed.*,
        previous_basis.advisory_id is not null
        and previous_basis.previous_priority is not null
        and proposed.priority > previous_basis.previous_priority
        and not previous_basis.is_previous_source_complete_listing
        and not previous_basis.is_previous_source_speaking as is_retained
    from proposed
    left join previous_basis
        on proposed.advisory_id = previous_basis.advisory_id

),

{#- A retained decision is the previous one as the ledger recorded it; its caveat is that its source went
    silent, so an old stale flag does not count twice, and the ledger's first-fetched time is what
    explanations show. Every other advisory takes the proposed decision. -#}
retained as (

    select
        retention.advisory_id,
        true as is_retained,
        previous.rule_id,
        previous.deciding_source,
        previous.evidence_signal as evidence_code,
        previous.evidence_version,
        null as evidence_version_key,
        previous.evidence_reason,
        previous.evidence_release,
        previous.evidence_record,
        previous.evidence_date,
        previous.evidence_fetched_at,
        previous.evidence_fetched_at as evidence_first_fetched_at,
        false as is_evidence_stale,
        null as vex_justification
    from retention
    inner join previous
        on retention.advisory_id = previous.advisory_id
    where retention.is_retained

),

{#- A proposal resting on the very evidence the standing decision rests on (same rule, source, signal,
    version, release and record) keeps the ledger's first-fetched time when it is earlier: the ledger
    survives a lost database, and the deciding observation need not be the one the published evidence list
    shows for its source (a fix in another release), which keeps its date through the published file. -#}
decided as (

    select * from retained
    union all by name
    select
        retention.advisory_id,
        false as is_retained,
        retention.rule_id,
        retention.deciding_source,
        retention.evidence_code,
        retention.evidence_version,
        retention.evidence_version_key,
        retention.evidence_reason,
        retention.evidence_release,
        retention.evidence_record,
        retention.evidence_date,
        retention.evidence_fetched_at,
        case
            when previous.rule_id = retention.rule_id
                and previous.deciding_source = retention.deciding_source
                and previous.evidence_signal is not distinct from retention.evidence_code
                and previous.evidence_version is not distinct from retention.evidence_version
                and previous.evidence_release is not distinct from retention.evidence_release
                and previous.evidence_record is not distinct from retention.evidence_record
                then least(retention.evidence_first_fetched_at, previous.evidence_fetched_at)
            else retention.evidence_first_fetched_at
        end as evidence_first_fetched_at,
        retention.is_evidence_stale,
        retention.vex_justification
    from retention
    left join previous
        on retention.advisory_id = previous.advisory_id
    where not retention.is_retained

),

with_catalogue as (

    select
        decided.*,
        rule_catalogue.priority,
        rule_catalogue.state,
        rule_catalogue.state_type,
        rule_catalogue.reason_code,
        rule_catalogue.confidence as rule_confidence,
        rule_catalogue.vex_status,
        coalesce(decided.vex_justification, rule_catalogue.vex_justification) as decided_vex_justification,
        rule_catalogue.explanation_template,
        case when rule_catalogue.state = 'fixed' then decided.evidence_version end as fixed_version,
        case when rule_catalogue.state = 'not_applicable' then decided.evidence_version end
            as unaffected_from_version
    from decided
    inner join rule_catalogue
        on decided.rule_id = rule_catalogue.rule_id

),

changes as (

    select
        with_catalogue.*,
        previous.state as previous_state,
        previous.rule_id as previous_rule_id,
        previous.decided_at as previous_decided_at,
        previous.decided_run_id as previous_decided_run_id,
        {#- A new history period starts when the state, the deciding rule, the deciding source or a published
            version changes; the ledger must name the source a decision now rests on, for retention to be right. -#}
        previous.advisory_id is null
        or previous.is_no_longer_listed
        or with_catalogue.state is distinct from previous.state
        or with_catalogue.rule_id is distinct from previous.rule_id
        or with_catalogue.deciding_source is distinct from previous.deciding_source
        or with_catalogue.fixed_version is distinct from previous.fixed_version
        or with_catalogue.unaffected_from_version is distinct from previous.unaffected_from_version
            as is_changed_this_run,
        coalesce(previous.first_seen_at, (select as_of from current_run)) as first_seen_at,
        coalesce(previous.first_seen_run_id, (select run_id from current_run)) as first_seen_run_id
    from with_catalogue
    left join previous
        on with_catalogue.advisory_id = previous.advisory_id

),

final as (

    select
        changes.*,
        case when is_changed_this_run then (select as_of from current_run) else previous_decided_at end
            as decided_at,
        case when is_changed_this_run then (select run_id from current_run) else previous_decided_run_id end
            as decided_run_id
    from changes

)

select * from final
