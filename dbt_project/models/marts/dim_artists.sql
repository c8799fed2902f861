-- One row per artist, merged by MBID; artists without a valid MBID are kept, keyed by their
-- normalised name. artist_key, the recommenders' integer id, is the key the artist was given when
-- first seen (int_artist_keys): it never changes.
with

artists as (

    select * from {{ ref('int_artists_merged_by_mbid') }}

),

artist_keys as (

    select * from {{ ref('int_artist_keys') }}

),

final as (

    select
        -- ids
        artist_keys.artist_key,
        artists.artist_id,
        artists.artist_mbid,
        -- names
        artists.canonical_name,
        artists.spellings,
        artists.spelling_count,
        -- measures
        artists.total_plays,
        artists.listeners,
        -- flags
        artists.artist_mbid is not null as has_mbid
    from artists
    inner join artist_keys
        on artists.artist_id = artist_keys.artist_id

)

select * from final
