{#- One row per vulnerability id some current advisory has: what the landed records say about the CVE
    itself, each fact with its source, for cve_facts.json and the advisory page. NVD gives the description
    (English), the CVSS scores, CWE ids, dates and references; the Debian tracker its own description (used
    when NVD has none) and its urgency; OSV and the tracker the other ids the CVE goes by. An unknown fact is
    null. severity is the one figure search sorts by: NVD's own (Primary) score before a CNA's (Secondary),
    each the newest CVSS version (4.0, then 3.1, 3.0, 2.0). -#}
with

advisories as (

    select * from {{ ref('int_echo_advisories_current') }}

),

facts as (

    select * from {{ ref('int_cve_facts_current') }}

),

observations as (

    select * from {{ ref('int_upstream_observations_joined_to_advisories') }}

),

vulnerabilities as (

    select distinct vuln_id
    from advisories

),

nvd as (

    select *
    from facts
    where source_name = 'nvd'
    {# One record per CVE id (record_id is the CVE id); the newest, should two ever share one. #}
    qualify row_number() over (partition by vuln_id order by last_modified_at desc nulls last, content_hash) = 1

),

nvd_scores as (

    select
        vuln_id,
        unnest(cvss) as score,
        generate_subscripts(cvss, 1) as position
    from nvd

),

nvd_severity as (

    select
        vuln_id,
        score.base_score,
        coalesce(
            lower(score.base_severity),
            {# The rating scale of the CVSS specifications, for a score given without its rating. #}
            case
                when score.version = '2.0' then
                    case when score.base_score < 4 then 'low' when score.base_score < 7 then 'medium' else 'high' end
                when score.base_score = 0 then 'none'
                when score.base_score < 4 then 'low'
                when score.base_score < 7 then 'medium'
                when score.base_score < 9 then 'high'
                else 'critical'
            end
        ) as rating,
        score.version
    from nvd_scores
    qualify row_number() over (
        partition by vuln_id
        {# NVD's own assessment (Primary) before a CNA's (Secondary), whatever their versions: a CNA's newer
            CVSS v4.0 score would otherwise stand for NVD's (libcoap3's CVE-2025-34468: a CNA's 8.2 over NVD's
            9.8). Within each, the newest version. #}
        order by
            case when score.type = 'Primary' then 0 else 1 end,
            case score.version when '4.0' then 1 when '3.1' then 2 when '3.0' then 3 else 4 end,
            position
    ) = 1

),

tracker_descriptions as (

    select
        vuln_id,
        description
    from facts
    where source_name = 'debian_tracker'
        and description is not null
    {# The tracker keeps a description per package; they are nearly always the same. The first package's
        stands, so the choice never depends on the order rows arrive in. #}
    qualify row_number() over (partition by vuln_id order by package_name, content_hash) = 1

),

tracker_urgencies as (

    select
        vuln_id,
        {# The highest urgency the tracker gives the CVE across the vendor's packages and releases, as the
            tracker writes it (a `**` suffix: Debian copied NVD's severity). #}
        arg_min(
            urgency,
            [
                case rtrim(urgency, '*')
                    when 'high' then 1
                    when 'medium' then 2
                    when 'low' then 3
                    when 'unimportant' then 4
                    when 'not yet assigned' then 5
                    when 'end-of-life' then 6
                    else 7
                end::varchar,
                urgency
            ]
        ) as urgency
    from observations
    where source_name = 'debian_tracker'
        and urgency is not null
    group by vuln_id

),

tracker_listed as (

    select distinct vuln_id
    from observations
    where source_name = 'debian_tracker'
    union
    select vuln_id
    from tracker_descriptions

),

{# Other ids the CVE goes by, from the records about the vendor's advisories: OSV's aliases and record ids
    (GHSA-…, DEBIAN-CVE-…, DSA-…), never the id itself. #}
alias_ids as (

    select
        vuln_id,
        unnest(list_append(aliases, record_id)) as alias
    from observations

),

aliases as (

    select
        vuln_id,
        list_sort(list(distinct alias)) as aliases
    from alias_ids
    where alias <> vuln_id
    group by vuln_id

),

final as (

    select
        vulnerabilities.vuln_id as cve_id,
        coalesce(nvd.description, tracker_descriptions.description) as description_text,
        case
            when nvd.description is not null then 'nvd'
            when tracker_descriptions.description is not null then 'debian_tracker'
        end as description_source,
        nvd.vuln_id is not null as has_nvd_record,
        nvd.vuln_status as nvd_status,
        nvd.published_at as nvd_published_at,
        nvd.last_modified_at as nvd_last_modified_at,
        coalesce(nvd.cvss, []) as nvd_cvss,
        coalesce(nvd.cwes, []::varchar[]) as nvd_cwes,
        coalesce(nvd.reference_links, []) as nvd_references,
        nvd.is_stale as is_nvd_stale,
        tracker_listed.vuln_id is not null as has_debian_record,
        tracker_descriptions.description as debian_description,
        tracker_urgencies.urgency as debian_urgency,
        case
            when tracker_listed.vuln_id is not null
                then 'https://security-tracker.debian.org/tracker/' || vulnerabilities.vuln_id
        end as debian_tracker_url,
        coalesce(aliases.aliases, []::varchar[]) as aliases,
        nvd_severity.base_score as severity_base_score,
        nvd_severity.rating as severity_rating,
        nvd_severity.version as severity_version,
        case when nvd_severity.vuln_id is not null then 'nvd' end as severity_source,
        nvd.published_at
    from vulnerabilities
    left join nvd
        on vulnerabilities.vuln_id = nvd.vuln_id
    left join nvd_severity
        on vulnerabilities.vuln_id = nvd_severity.vuln_id
    left join tracker_descriptions
        on vulnerabilities.vuln_id = tracker_descriptions.vuln_id
    left join tracker_urgencies
        on vulnerabilities.vuln_id = tracker_urgencies.vuln_id
    left join tracker_listed
        on vulnerabilities.vuln_id = tracker_listed.vuln_id
    left join aliases
        on vulnerabilities.vuln_id = aliases.vuln_id

)

select * from final
