{#- The rule catalogue as reports and the site read it, with how many advisories each rule decides now. -#}
with

rule_catalogue as (

    select * from {{ ref('rule_catalogue') }}

),

advisories as (

    select * from {{ ref('mart_advisory_current') }}

),

decided_counts as (

    select
        rule_id,
        count(*) as advisory_count
    from advisories
    group by rule_id

),

final as (

    select
        rule_catalogue.priority,
        rule_catalogue.rule_id,
        rule_catalogue.state,
        rule_catalogue.state_type,
        rule_catalogue.reason_code,
        rule_catalogue.confidence,
        rule_catalogue.vex_status,
        rule_catalogue.vex_justification,
        rule_catalogue.explanation_template,
        rule_catalogue.description,
        coalesce(decided_counts.advisory_count, 0) as advisory_count
    from rule_catalogue
    left join decided_counts
        on rule_catalogue.rule_id = decided_counts.rule_id

)

select * from final
