with

source as (

    select * from {{ source('pipeline', 'runs') }}

),

renamed as (

    select
        run_id,
        run_seq,
        started_at,
        as_of,
        finished_at,
        status

    from source

)

select * from renamed
