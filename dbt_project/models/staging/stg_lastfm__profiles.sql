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
        signup_date
    from source
    where rejection_reason is null

)

select * from final
