with

source as (

    select * from {{ source('echo', 'echo_advisories') }}

),

renamed as (

    select
        content_hash,
        package_name || ':' || vuln_id as advisory_id,
        package_name,
        vuln_id,
        starts_with(vuln_id, 'TEMP-') as is_temporary_id,
        nullif(trim(fixed_version), '') as fixed_version,
        {#- dpkg order as a plain string, computed once at landing (pipeline/lib/dpkg-version.ts). -#}
        fixed_version_key,
        nullif(trim(severity), '') as severity,
        extra_fields,
        run_id as first_seen_run_id,
        fetched_at as first_fetched_at

    from source

)

select * from renamed
