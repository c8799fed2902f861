{#- No two rows share the same values in all of `combination_of_columns` (like dbt_utils'). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    select
        {{ combination_of_columns | join(', ') }},
        count(*) as n_rows
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}
