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

upstream as (

    select * from {{ ref('int_upstream_observations_joined_to_advisories') }}

),

source_catalogue as (

    select * from {{ ref('source_catalogue') }}

),

{#- Debian's verdict for an advisory comes from the most preferred release it tracks the package in. -#}
debian_deciding_release as (

    select *
    from upstream
    where source_name = 'debian_tracker'
        and release_preference is not null
    qualify row_number() over (partition by advisory_id order by release_preference, record_id) = 1

),

analyst_override as (

    select
        advisories.advisory_id,
        'analyst_override' as rule_id,
        'echo_csv' as deciding_source,
        overrides.unaffected_from_version as evidence_version,
        override_reasons.customer_reason as evidence_reason,
        override_reasons.vex_justification,
        overrides.internal_status as evidence_code,
        overrides.fetched_at as evidence_fetched_at,
        overrides.first_fetched_at as evidence_first_fetched_at,
        overrides.is_stale as is_evidence_stale
    from advisories
    inner join overrides
        on advisories.advisory_id = overrides.advisory_id
    {# A code the catalogue does not know decides nothing: customers would get no reason. The adapter
       quarantines such rows; the relationships test on int_not_applicable_overrides_current is the backstop. #}
    inner join override_reasons
        on overrides.internal_status = override_reasons.internal_status

),

upstream_rejected as (

    select
        advisory_id,
        'upstream_rejected' as rule_id,
        source_name as deciding_source,
        'status ' || coalesce(detail, 'Rejected') as evidence_reason,
        signal as evidence_code,
        record_id as evidence_record,
        upstream_modified_at as evidence_date,
        fetched_at as evidence_fetched_at,
        first_fetched_at as evidence_first_fetched_at,
        is_stale as is_evidence_stale
    from upstream
    where signal = 'rejected'
    qualify row_number() over (partition by advisory_id order by source_precedence, record_id) = 1

),

upstream_withdrawn as (

    select
        advisory_id,
        'upstream_withdrawn' as rule_id,
        source_name as deciding_source,
        signal as evidence_code,
        record_id as evidence_record,
        upstream_modified_at as evidence_date,
        fetched_at as evidence_fetched_at,
        first_fetched_at as evidence_first_fetched_at,
        is_stale as is_evidence_stale
    from upstream
    where signal = 'withdrawn'
    qualify row_number() over (partition by advisory_id order by source_precedence, record_id) = 1

),

distro_not_affected as (

    select
        advisory_id,
        'distro_not_affected' as rule_id,
        source_name as deciding_source,
        signal as evidence_code,
        release as evidence_release,
        record_id as evidence_record,
        upstream_modified_at as evidence_date,
        fetched_at as evidence_fetched_at,
        first_fetched_at as evidence_first_fetched_at,
        is_stale as is_evidence_stale
    from debian_deciding_release
    where signal = 'not_affected'

),

vendor_fixed_version as (

    select
        advisory_id,
        'vendor_fixed_version' as rule_id,
        'echo_data' as deciding_source,
        fixed_version as evidence_version,
        fixed_version_key as evidence_version_key,
        'fixed' as evidence_code,
        fetched_at as evidence_fetched_at,
        first_fetched_at as evidence_first_fetched_at,
        is_stale as is_evidence_stale
    from advisories
    where fixed_version is not null

),

{#- A fix in any tracked release means a fix exists upstream; the most trusted source and the most
    preferred release give the version. -#}
upstream_fixed_version as (

    select
        advisory_id,
        'upstream_fixed_version' as rule_id,
        source_name as deciding_source,
        fixed_version as evidence_version,
        fixed_version_key as evidence_version_key,
        signal as evidence_code,
        release as evidence_release,
        record_id as evidence_record,
        upstream_modified_at as evidence_date,
        fetched_at as evidence_fetched_at,
        first_fetched_at as evidence_first_fetched_at,
        is_stale as is_evidence_stale
    from upstream
    where signal = 'fixed'
        and fixed_version is not null
    qualify row_number() over (
        partition by advisory_id
        order by source_precedence, release_preference nulls last, record_id
    ) = 1

),

upstream_wont_fix as (

    select
        advisory_id,
        'upstream_wont_fix' as rule_id,
        source_name as deciding_source,
        case
            when signal = 'ignored' then 'Debian has decided that no update will be provided'
            when signal = 'end_of_life' then 'security support for the package in that release has ended'
            else 'Debian rates it unimportant and leaves it open, so no security update is planned'
        end as evidence_reason,
        signal as evidence_code,
        release as evidence_release,
        record_id as evidence_record,
        upstream_modified_at as evidence_date,
        fetched_at as evidence_fetched_at,
        first_fetched_at as evidence_first_fetched_at,
        is_stale as is_evidence_stale
    from debian_deciding_release
    where signal in ('ignored', 'end_of_life')
        {#- "unimportant" open issues are ones Debian never plans to fix in a security update. -#}
        or (signal = 'open' and urgency = 'unimportant')

),

upstream_pending_debian as (

    select
        advisory_id,
        'upstream_pending' as rule_id,
        source_name as deciding_source,
        case
            when signal = 'postponed' then 'the fix is postponed to a later update'
            when no_dsa_reason = 'minor_issue' then 'a minor issue that may be fixed in a point release'
            else 'open, no fix released yet'
        end as evidence_reason,
        signal as evidence_code,
        release as evidence_release,
        record_id as evidence_record,
        upstream_modified_at as evidence_date,
        fetched_at as evidence_fetched_at,
        first_fetched_at as evidence_first_fetched_at,
        is_stale as is_evidence_stale
    from debian_deciding_release
    where signal in ('open', 'postponed')

),

{#- OSV alone cannot tell "won't fix" from "pending" (it does not carry no-dsa); it only counts when Debian
    itself says nothing about the advisory. -#}
upstream_pending_osv as (

    select
        upstream.advisory_id,
        'upstream_pending' as rule_id,
        upstream.source_name as deciding_source,
        'listed as affected without a fixed version' as evidence_reason,
        upstream.signal as evidence_code,
        upstream.release as evidence_release,
        upstream.record_id as evidence_record,
        upstream.upstream_modified_at as evidence_date,
        upstream.fetched_at as evidence_fetched_at,
        upstream.first_fetched_at as evidence_first_fetched_at,
        upstream.is_stale as is_evidence_stale
    from upstream
    left join debian_deciding_release
        on upstream.advisory_id = debian_deciding_release.advisory_id
    where upstream.source_name = 'osv'
        and upstream.signal = 'open'
        and debian_deciding_release.advisory_id is null
    qualify row_number() over (
        partition by upstream.advisory_id
        order by upstream.release_preference nulls last, upstream.record_id
    ) = 1

),

no_signal as (

    select
        advisory_id,
        'no_signal' as rule_id,
        'echo_data' as deciding_source,
        'listed_without_fix' as evidence_code,
        fetched_at as evidence_fetched_at,
        first_fetched_at as evidence_first_fetched_at,
        is_stale as is_evidence_stale
    from advisories

),

{#- By name: each rule selects only the evidence it has, and the columns it lacks are null. -#}
unioned as (

    select * from analyst_override
    union all by name
    select * from upstream_rejected
    union all by name
    select * from upstream_withdrawn
    union all by name
    select * from distro_not_affected
    union all by name
    select * from vendor_fixed_version
    union all by name
    select * from upstream_fixed_version
    union all by name
    select * from upstream_wont_fix
    union all by name
    select * from upstream_pending_debian
    union all by name
    select * from upstream_pending_osv
    union all by name
    select * from no_signal

),

final as (

    select
        unioned.advisory_id,
        unioned.rule_id,
        unioned.deciding_source,
        source_catalogue.display_name as deciding_source_name,
        unioned.evidence_version,
        unioned.evidence_version_key,
        unioned.evidence_reason,
        unioned.vex_justification,
        unioned.evidence_code,
        unioned.evidence_release,
        unioned.evidence_record,
        unioned.evidence_date,
        unioned.evidence_fetched_at,
        unioned.evidence_first_fetched_at,
        unioned.is_evidence_stale
    from unioned
    left join source_catalogue
        on unioned.deciding_source = source_catalogue.source

)

select * from final
