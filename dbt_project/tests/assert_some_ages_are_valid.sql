-- Warns (does not fail) when no user has a valid age: every age is then var('age_fallback'), not a
-- mean of the data, and age carries no information for the recommenders.
{{ config(severity='warn') }}

with

users as (

    select * from {{ ref('int_users_age_cleaned') }}

),

final as (

    select
        count(*) as user_count,
        {{ var('age_fallback') }} as age_fallback
    from users
    having count_if(not is_age_imputed) = 0

)

select * from final
