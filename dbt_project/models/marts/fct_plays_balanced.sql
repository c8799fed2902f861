-- At most var('max_rows_per_artist') rows per artist, chosen by a seeded hash of the row's keys:
-- the same seed and data give the same sample. Training input for the recommenders, so the most
-- popular artists do not dominate the factorisation.
with

plays as (

    select * from {{ ref('fct_plays') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by artist_key
            order by xxhash64({{ var('sample_seed') }}, user_key, artist_key) asc, user_key asc
        ) as sample_rank
    from plays

),

final as (

    select
        -- ids
        user_key,
        artist_key,
        -- measures
        plays,
        plays_capped,
        rating,
        source_rows,
        sample_rank,
        -- flags
        is_capped
    from ranked
    where sample_rank <= {{ var('max_rows_per_artist') }}

)

select * from final
