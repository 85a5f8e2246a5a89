{#- A text column holds something besides white space (not_null lets '' and '  ' through). -#}
{% test not_blank(model, column_name) %}

select {{ column_name }}
from {{ model }}
where trim({{ column_name }}) = ''

{% endtest %}
