with

source as (

    select * from {{ source('upstream', 'upstream_observations') }}

),

renamed as (

    select
        content_hash,
        source_name,
        vuln_id,
        record_id,
        coalesce(try_cast(aliases as varchar[]), []::varchar[]) as aliases,
        package_name,
        release,
        signal,
        nullif(trim(fixed_version), '') as fixed_version,
        {#- dpkg order as a plain string, computed once at landing (pipeline/lib/dpkg-version.ts). -#}
        fixed_version_key,
        urgency,
        try_cast(upstream_modified_at as timestamptz) as upstream_modified_at,
        detail,
        {#- Why Debian issues no DSA for an entry it leaves open: minor_issue (the tracker marks it no-dsa
            without a reason), ignored or postponed. Read from the adapter's detail, which begins "no-dsa:
            minor issue" for the first (pipeline/sources/debian_tracker/parse.ts), as long as the landing
            table has no column for it; the rules read this code, never the text. -#}
        case
            when source_name = 'debian_tracker' and signal in ('ignored', 'postponed') then signal
            when source_name = 'debian_tracker' and starts_with(detail, 'no-dsa: minor issue') then 'minor_issue'
        end as no_dsa_reason,
        payload_hash,
        payload_ref,
        run_id as first_seen_run_id,
        fetched_at as first_fetched_at

    from source

)

select * from renamed
