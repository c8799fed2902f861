{#- No value of `group_column` has more than `max_rows` rows. -#}
{% test at_most_rows_per_group(model, group_column, max_rows) %}
    select
        {{ group_column }},
        count(*) as n_rows
    from {{ model }}
    group by {{ group_column }}
    having count(*) > {{ max_rows }}
{% endtest %}
