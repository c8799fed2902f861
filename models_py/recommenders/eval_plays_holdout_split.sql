-- fct_plays split per user for evaluation. A seeded sample of the users with at least
-- var('holdout_min_artists') artists is evaluated: var('evaluation_max_user_share') of those users,
-- but at least var('evaluation_min_users') (all when fewer) and at most var('evaluation_max_users').
-- Each evaluated user holds out round(var('holdout_fraction') * n) of their artists (at least 1),
-- chosen by a seeded hash; every other row is a training row. mart_als_factors trains on the
-- training rows, so the build scores the very ALS it serves and trains ALS once (the evaluated
-- users' held-out rows, ~1 % of the rows at full size, are the price). Training rows get the same
-- per-artist cap as fct_plays_balanced (is_training_sample).
with

plays as (

    select * from {{ ref('fct_plays') }}

),

user_artist_counts as (

    select
        user_key,
        count(*) as user_artist_count
    from plays
    group by user_key

),

eligible_users as (

    select
        user_key,
        row_number() over (
            order by xxhash64({{ var('holdout_seed') }}, user_key) asc, user_key asc
        ) as user_rank,
        count(*) over () as eligible_count
    from user_artist_counts
    where user_artist_count >= {{ var('holdout_min_artists') }}

),

evaluated_users as (

    select user_key
    from eligible_users
    where user_rank <= least(
        {{ var('evaluation_max_users') }},
        greatest(
            {{ var('evaluation_min_users') }},
            ceil(eligible_count * {{ var('evaluation_max_user_share') }})
        )
    )

),

ranked as (

    select
        plays.*,
        evaluated_users.user_key is not null as is_evaluated_user,
        count(*) over (partition by plays.user_key) as user_artist_count,
        row_number() over (
            partition by plays.user_key
            order by
                xxhash64({{ var('holdout_seed') }}, plays.user_key, plays.artist_key) asc,
                plays.artist_key asc
        ) as holdout_rank
    from plays
    left join evaluated_users
        on plays.user_key = evaluated_users.user_key

),

split as (

    select
        *,
        coalesce(
            is_evaluated_user
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
