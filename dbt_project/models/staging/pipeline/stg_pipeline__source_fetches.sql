with

source as (

    select * from {{ source('pipeline', 'source_fetches') }}

),

renamed as (

    select
        run_id,
        source,
        status as fetch_status,
        snapshot_hash,
        new_snapshot as is_new_snapshot,
        delivery,
        unchanged as is_unchanged,
        observations as observation_count,
        rejected as rejected_count,
        error as error_message,
        fetched_at

    from source

)

select * from renamed
