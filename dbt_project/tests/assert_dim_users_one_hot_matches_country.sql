-- Every user with a known country has exactly one one-hot column set, the one of its country;
-- users with an unknown or missing country have none. Returns the users that break this.
{%- set columns = country_columns() %}
with

users as (

    select * from {{ ref('dim_users') }}

),

checked as (

    select
        user_key,
        country,
        is_country_known,
        0
        {%- for _, column_name in columns %}
        + {{ column_name }}
        {%- endfor %} as hot_columns,
        case
        {%- for country_name, column_name in columns %}
            when country = {{ string_literal(country_name) }} then {{ column_name }}
        {%- endfor %}
            else 0
        end as own_column
    from users

)

select * from checked
where
    hot_columns != case when is_country_known then 1 else 0 end
    or (is_country_known and own_column != 1)
