-- fct_plays split per user for evaluation: users with at least var('holdout_min_artists')
-- artists hold out round(var('holdout_fraction') * n) of them (at least 1), chosen by a seeded hash.
-- Training rows get the same per-artist cap as fct_plays_balanced (is_training_sample), so the
-- evaluated models train the way the production ones do.
with

plays as (

    select * from {{ ref('fct_plays') }}

),

ranked as (

    select
        *,
        count(*) over (partition by user_key) as user_artist_count,
        row_number() over (
            partition by user_key
            order by xxhash64({{ var('holdout_seed') }}, user_key, artist_key) asc, artist_key asc
        ) as holdout_rank
    from plays

),

split as (

    select
        *,
        coalesce(
            user_artist_count >= {{ var('holdout_min_artists') }}
            and holdout_rank <= greatest(1, round(user_artist_count * {{ var('holdout_fraction') }})),
            false
        ) as is_holdout
    from ranked

),

sampled as (

    select
        *,
        row_number() over (
            partition by artist_key, is_holdout
            order by xxhash64({{ var('sample_seed') }}, user_key, artist_key) asc, user_key asc
        ) as sample_rank
    from split

),

final as (

    select
        -- ids
        user_key,
        artist_key,
        -- measures
        plays,
        rating,
        -- flags
        is_holdout,
        not is_holdout and sample_rank <= {{ var('max_rows_per_artist') }} as is_training_sample
    from sampled

)

select * from final
