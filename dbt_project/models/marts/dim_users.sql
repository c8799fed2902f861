-- One row per user, with the key the user was given when first seen (int_user_keys), the cleaned
-- age and one 0/1 column per country of the lastfm_countries seed (column names from the seed's
-- country_slug, so they are stable).
with

users as (

    select * from {{ ref('int_users_age_cleaned') }}

),

countries as (

    select * from {{ ref('lastfm_countries') }}

),

user_keys as (

    select * from {{ ref('int_user_keys') }}

),

final as (

    select
        -- ids
        user_keys.user_key,
        users.user_sha1,
        -- attributes
        users.gender,
        users.country,
        countries.iso_alpha2 as country_iso_alpha2,
        -- age
        users.age_raw,
        users.age,
        users.is_age_imputed,
        users.age_scaled,
        -- dates
        users.signup_date,
        -- flags
        users.has_profile,
        users.has_plays,
        -- one-hot country: one 0/1 column per seed country
        {%- for country_name, column_name in country_columns() %}
        cast(coalesce(users.country = {{ string_literal(country_name) }}, false) as tinyint)
        as {{ column_name }},
        {%- endfor %}
        countries.country_name is not null as is_country_known
    from users
    inner join user_keys
        on users.user_sha1 = user_keys.user_sha1
    left join countries
        on users.country = countries.country_name

)

select * from final
