{#- The run being decided: PIPELINE_RUN_ID when the pipeline runs dbt, else the latest run in the ledger. -#}
with

runs as (

    select * from {{ ref('stg_pipeline__runs') }}

),

final as (

    select
        run_id,
        run_seq,
        as_of
    from runs
    where run_id = coalesce(
        nullif('{{ var("run_id") }}', ''),
        (select run_id from runs order by run_seq desc limit 1)
    )

)

select * from final
