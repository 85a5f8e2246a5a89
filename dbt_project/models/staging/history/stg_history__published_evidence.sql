with

source as (

    select * from {{ source('history', 'published_evidence') }}

),

renamed as (

    select
        advisory_id,
        source,
        signal,
        version,
        release,
        record,
        fetched_at

    from source

)

select * from renamed
