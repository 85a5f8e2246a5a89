{#- Fails with one row per row whose column differs from the same column of the row of `to` with the same
    `key`: for a value a seed repeats from another seed, so that the two cannot drift apart. -#}
{% test agrees_with(model, column_name, to, key) %}

select
    child.{{ key }},
    child.{{ column_name }},
    parent.{{ column_name }} as expected
from {{ model }} as child
inner join {{ to }} as parent
    on child.{{ key }} = parent.{{ key }}
where child.{{ column_name }} is distinct from parent.{{ column_name }}

{% endtest %}
