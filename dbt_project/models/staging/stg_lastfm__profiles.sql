with

source as (

    select * from {{ ref('base_lastfm__profile_lines') }}

),

final as (

    select
        -- ids
        user_sha1,
        -- attributes
        gender,
        age,
        country,
        -- dates
        signup_date,
        -- fields that could not be read and were set to null
        is_gender_invalid,
        is_age_invalid,
        is_country_invalid,
        is_signup_invalid,
        -- batch (null: the original file)
        batch_date
    from source
    where rejection_reason is null and not is_erased

)

select * from final
