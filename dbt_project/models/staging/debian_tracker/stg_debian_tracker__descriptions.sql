{#- The Debian Security Tracker's description of each (package, vulnerability) entry, landed as facts
    (landing.cve_facts, source debian_tracker). Its urgency stays with the per-release observations. -#}
with

source as (

    select * from {{ source('upstream', 'cve_facts') }}
    where source_name = 'debian_tracker'

),

renamed as (

    select
        content_hash,
        source_name,
        vuln_id,
        record_id,
        package_name,
        nullif(trim(description), '') as description,
        payload_hash,
        payload_ref,
        run_id as first_seen_run_id,
        fetched_at as first_fetched_at

    from source

)

select * from renamed
