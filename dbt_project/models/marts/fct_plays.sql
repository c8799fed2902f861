-- One row per (user, artist): plays summed over the lines that name the same merged artist,
-- capped at var('plays_cap'), and the implicit rating plays_capped / plays_cap in [0, 1].
with

plays as (

    select * from {{ ref('int_plays_keyed_by_artist') }}

),

users as (

    select
        user_key,
        user_sha1
    from {{ ref('dim_users') }}

),

artists as (

    select
        artist_key,
        artist_id
    from {{ ref('dim_artists') }}

),

aggregated as (

    select
        users.user_key,
        artists.artist_key,
        sum(plays.plays) as plays,
        count(*) as source_rows
    from plays
    inner join users
        on plays.user_sha1 = users.user_sha1
    inner join artists
        on plays.artist_id = artists.artist_id
    group by users.user_key, artists.artist_key

),

final as (

    select
        -- ids
        user_key,
        artist_key,
        -- measures
        plays,
        least(plays, {{ var('plays_cap') }}) as plays_capped,
        cast(least(plays, {{ var('plays_cap') }}) as double) / {{ var('plays_cap') }} as rating,
        source_rows,
        -- flags
        plays > {{ var('plays_cap') }} as is_capped
    from aggregated

)

select * from final
