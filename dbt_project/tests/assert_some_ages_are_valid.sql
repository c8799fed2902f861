-- Warns (does not fail) when no user has a valid age: every age is then var('age_fallback'), not a
-- mean of the data, and age carries no information for the recommenders. Reads dim_users (a table):
-- the view int_users_age_cleaned would re-scan every staged play.
{{ config(severity='warn') }}

with

users as (

    select * from {{ ref('dim_users') }}

),

final as (

    select
        count(*) as user_count,
        {{ var('age_fallback') }} as age_fallback
    from users
    having count_if(not is_age_imputed) = 0

)

select * from final
