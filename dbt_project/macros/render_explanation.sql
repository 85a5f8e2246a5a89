{#- Fills a rule catalogue explanation template from a decision's evidence. One definition, used for the
    current decisions and for every period of the history, so the wording of both always matches. The
    arguments are SQL expressions; advisory_id is "<package>:<vulnerability id>". -#}
{% macro render_explanation(
    template, advisory_id, source_name, evidence_version, evidence_reason, evidence_release,
    evidence_record, evidence_date, evidence_fetched_at
) -%}
    replace(replace(replace(replace(replace(replace(replace(replace(replace(
        {{ template }},
        '{reason}', coalesce({{ evidence_reason }}, '')),
        '{version}', coalesce({{ evidence_version }}, '')),
        '{source}', coalesce({{ source_name }}, 'an upstream source')),
        '{release}', coalesce({{ evidence_release }}, 'the releases it tracks')),
        '{record}', coalesce({{ evidence_record }}, '')),
        '{date}', coalesce(strftime({{ evidence_date }}, '%Y-%m-%d'), 'an unknown date')),
        '{fetched}', coalesce(strftime({{ evidence_fetched_at }}, '%Y-%m-%d'), 'an unknown date')),
        '{package}', split_part({{ advisory_id }}, ':', 1)),
        '{vuln_id}', split_part({{ advisory_id }}, ':', 2)
    )
{%- endmacro %}
