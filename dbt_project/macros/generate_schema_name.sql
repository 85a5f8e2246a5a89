{#- Layers get their own plain schema names (staging, intermediate, marts, reference) instead of dbt's
    default "<target schema>_<custom schema>", so other readers of the database find them by layer. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
