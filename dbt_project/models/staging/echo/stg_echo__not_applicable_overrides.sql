with

source as (

    select * from {{ source('echo', 'echo_not_applicable') }}

),

renamed as (

    select
        content_hash,
        package_name || ':' || cve_id as advisory_id,
        package_name,
        cve_id,
        status,
        nullif(trim(fixed_version), '') as unaffected_from_version,
        internal_status,
        run_id as first_seen_run_id,
        fetched_at as first_fetched_at

    from source

)

select * from renamed
