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
        payload_hash,
        payload_ref,
        run_id as first_seen_run_id,
        fetched_at as first_fetched_at

    from source

)

select * from renamed
