{#- The run being decided: the latest run in the ledger (the pipeline records its run before dbt), unless
    the run_id var names another. -#}
{#- A view, not a table: it names the latest run even in a run that kept the previous run's decisions
    without running dbt (pipeline/history/decision-inputs.ts). -#}
{{ config(materialized='view') }}

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
