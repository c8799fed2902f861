-- One row per user (from the profile file, the plays file, or both) with age cleaned: ages
-- outside [age_min, age_max] or missing are flagged and replaced by the mean of the valid ages
-- (var('age_fallback') when there is no valid age at all), then min-max scaled to [0, 1].
with

profiles as (

    select * from {{ ref('int_profiles_current') }}

),

plays as (

    select distinct user_sha1 from {{ ref('stg_lastfm__plays') }}

),

users as (

    select
        coalesce(profiles.user_sha1, plays.user_sha1) as user_sha1,
        profiles.gender,
        profiles.age as age_raw,
        profiles.country,
        profiles.signup_date,
        profiles.user_sha1 is not null as has_profile,
        plays.user_sha1 is not null as has_plays
    from profiles
    full outer join plays
        on profiles.user_sha1 = plays.user_sha1

),

flagged as (

    select
        *,
        coalesce(
            age_raw between {{ var('age_min') }} and {{ var('age_max') }}, false
        ) as is_age_valid
    from users

),

valid_age_mean as (

    select coalesce(avg(age_raw), {{ var('age_fallback') }}) as mean_valid_age
    from flagged
    where is_age_valid

),

imputed as (

    select
        flagged.*,
        not flagged.is_age_valid as is_age_imputed,
        case
            when flagged.is_age_valid then cast(flagged.age_raw as double)
            else valid_age_mean.mean_valid_age
        end as age
    from flagged
    cross join valid_age_mean

),

age_bounds as (

    select
        min(age) as age_lowest,
        max(age) as age_highest
    from imputed

),

final as (

    select
        -- ids
        imputed.user_sha1,
        -- attributes
        imputed.gender,
        imputed.country,
        -- age
        imputed.age_raw,
        imputed.age,
        imputed.is_age_imputed,
        case
            when age_bounds.age_highest > age_bounds.age_lowest
                then
                    (imputed.age - age_bounds.age_lowest)
                    / (age_bounds.age_highest - age_bounds.age_lowest)
            else 0.0
        end as age_scaled,
        -- dates
        imputed.signup_date,
        -- flags
        imputed.has_profile,
        imputed.has_plays
    from imputed
    cross join age_bounds

)

select * from final
