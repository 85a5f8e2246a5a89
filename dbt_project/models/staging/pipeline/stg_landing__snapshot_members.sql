with

source as (

    select * from {{ source('landing', 'snapshot_members') }}

),

renamed as (

    select
        snapshot_hash,
        content_hash,
        position

    from source

)

select * from renamed
