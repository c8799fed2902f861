-- Each listener's current profile: from the newest batch that sent one (a batch's profile replaces
-- the one before), else from the original file, where the rare duplicate profiles keep the
-- earliest signup. profile_as_of is when it took effect: the batch's day, or
-- var('original_profiles_as_of') for the original file. snp_lastfm__profiles keeps the history.
with

profiles as (

    select * from {{ ref('stg_lastfm__profiles') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by user_sha1
            order by batch_date desc nulls last, signup_date asc, country asc, gender asc, age asc
        ) as profile_rank
    from profiles

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
        batch_date,
        cast(
            coalesce(batch_date, to_date({{ string_literal(var('original_profiles_as_of')) }})) as timestamp
        ) as profile_as_of
    from ranked
    where profile_rank = 1

)

select * from final
