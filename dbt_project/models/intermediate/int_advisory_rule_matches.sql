{#- Every rule of the rule catalogue whose condition holds for an advisory, one row per (advisory, rule),
    with the evidence the rule would decide on. Conditions live here, keyed by the catalogue's rule_id;
    priority, state and wording live in the catalogue. -#}
with

advisories as (

    select * from {{ ref('int_echo_advisories_current') }}

),

overrides as (

    select * from {{ ref('int_not_applicable_overrides_current') }}

),

override_reasons as (

    select * from {{ ref('override_reasons') }}

),

analyst_override as (

    select
        advisories.advisory_id,
        'analyst_override' as rule_id,
        'echo_csv' as deciding_source,
        overrides.unaffected_from_version as evidence_version,
        coalesce(
            override_reasons.customer_reason,
            'our security research team determined that it does not apply to this package'
        ) as evidence_reason,
        override_reasons.vex_justification,
        overrides.internal_status as evidence_code,
        overrides.fetched_at as evidence_fetched_at,
        overrides.is_stale as is_evidence_stale
    from advisories
    inner join overrides
        on advisories.advisory_id = overrides.advisory_id
    left join override_reasons
        on overrides.internal_status = override_reasons.internal_status

),

vendor_fixed_version as (

    select
        advisory_id,
        'vendor_fixed_version' as rule_id,
        'echo_data' as deciding_source,
        fixed_version as evidence_version,
        null as evidence_reason,
        null as vex_justification,
        null as evidence_code,
        fetched_at as evidence_fetched_at,
        is_stale as is_evidence_stale
    from advisories
    where fixed_version is not null

),

no_signal as (

    select
        advisory_id,
        'no_signal' as rule_id,
        'echo_data' as deciding_source,
        null as evidence_version,
        null as evidence_reason,
        null as vex_justification,
        null as evidence_code,
        fetched_at as evidence_fetched_at,
        is_stale as is_evidence_stale
    from advisories

),

final as (

    select * from analyst_override
    union all by name
    select * from vendor_fixed_version
    union all by name
    select * from no_signal

)

select * from final
