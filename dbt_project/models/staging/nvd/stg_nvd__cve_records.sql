{#- NVD's CVE records as facts (landing.cve_facts, source nvd), typed: one row per distinct record content
    ever landed. The lists are parsed from the JSON the adapter wrote (pipeline/sources/nvd/parse.ts). -#}
with

source as (

    select * from {{ source('upstream', 'cve_facts') }}
    where source_name = 'nvd'

),

renamed as (

    select
        content_hash,
        source_name,
        vuln_id,
        record_id,
        nullif(trim(description), '') as description,
        vuln_status,
        try_cast(published as timestamptz) as published_at,
        try_cast(last_modified as timestamptz) as last_modified_at,
        from_json(
            cvss,
            '[{"version": "VARCHAR", "base_score": "DOUBLE", "base_severity": "VARCHAR", "vector": "VARCHAR", "source": "VARCHAR", "type": "VARCHAR"}]'
        ) as cvss,
        from_json(cwes, '["VARCHAR"]') as cwes,
        from_json(reference_links, '[{"url": "VARCHAR", "source": "VARCHAR", "tags": ["VARCHAR"]}]') as reference_links,
        payload_hash,
        payload_ref,
        run_id as first_seen_run_id,
        fetched_at as first_fetched_at

    from source

)

select * from renamed
