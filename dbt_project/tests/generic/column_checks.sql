{#- A model's plain column conditions in one data test. dbt spends about 60 ms of its own on every test node
    whatever its query, and a run builds tests on a dozen models: one test per model instead of one per
    column and condition takes about a hundred nodes out of every run. Fails with one row per condition
    that does not hold, naming it (`not_null:state`, `unique:advisory_id`, `unique:run_id+advisory_id`,
    `accepted_values:state_type`) with how many rows break it; a run's error message lists those rows.
      not_null             columns that never hold null
      unique               columns whose non-null values occur once each (as dbt's unique)
      unique_combinations  lists of columns whose combined values occur once each (a null is a value)
      accepted_values      column: the values it may hold; null is allowed (as dbt's accepted_values) -#}
{% test column_checks(model, not_null=[], unique=[], unique_combinations=[], accepted_values={}) %}

{%- set row_conditions = [] -%}
{%- for column in not_null -%}
    {%- do row_conditions.append(("not_null:" ~ column, column ~ " is null")) -%}
{%- endfor -%}
{%- for column, values in accepted_values.items() -%}
    {%- set quoted = [] -%}
    {%- for value in values -%}
        {%- do quoted.append("'" ~ (value | string | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    {%- do row_conditions.append(("accepted_values:" ~ column, column ~ " not in (" ~ quoted | join(", ") ~ ")")) -%}
{%- endfor -%}
{%- set groupings = [] -%}
{%- for column in unique -%}
    {%- do groupings.append(("unique:" ~ column, [column], column ~ " is not null")) -%}
{%- endfor -%}
{%- for columns in unique_combinations -%}
    {%- do groupings.append(("unique:" ~ columns | join("+"), columns, "true")) -%}
{%- endfor -%}
{%- if not row_conditions and not groupings -%}
    {{ exceptions.raise_compiler_error("column_checks on " ~ model ~ " names no check") }}
{%- endif %}

with
{%- if row_conditions %}
row_counts as (
    select
    {%- for name, condition in row_conditions %}
        count(*) filter (where {{ condition }}) as "{{ name }}"{{ "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
),
{%- endif %}
checks as (
{%- if row_conditions %}
    select check_name, failing_rows
    from (unpivot row_counts on columns(*) into name check_name value failing_rows)
{%- endif %}
{%- for name, columns, condition in groupings %}
    {{ "union all" if row_conditions or not loop.first }}
    select '{{ name }}' as check_name, count(*) as failing_rows
    from (
        select {{ columns | join(", ") }}
        from {{ model }}
        where {{ condition }}
        group by {{ columns | join(", ") }}
        having count(*) > 1
    )
{%- endfor %}
)

select check_name, failing_rows
from checks
where failing_rows > 0

{% endtest %}
