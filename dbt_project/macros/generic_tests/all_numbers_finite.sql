{#-
    No NaN and no infinity in any floating-point column of the model, nor inside arrays of floats
    (factor vectors). The columns are read from the built relation, so a new float column is
    covered without editing the yml. Returns the offending rows.
-#}
{% test all_numbers_finite(model) %}
    {%- set checks = [] -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(model) -%}
            {%- set data_type = column.dtype | lower -%}
            {%- set name = adapter.quote(column.name) -%}
            {%- if data_type in ('double', 'float') -%}
                {%- do checks.append('not (isnan(' ~ name ~ ') or abs(' ~ name ~ ") = double('infinity'))") -%}
            {%- elif data_type in ('array<double>', 'array<float>') -%}
                {%- do checks.append(
                    'not exists(' ~ name ~ ", x -> isnan(x) or abs(x) = double('infinity'))"
                ) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif %}
    select *
    from {{ model }}
    where not ({{ checks | join(' and ') if checks else 'true' }})
{% endtest %}
