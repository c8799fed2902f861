-- Staged plays with the natural key of the artist they belong to: the MBID when it is a valid
-- UUID, else the normalised name ("name:" prefix) so artists without MBID are kept.
with

plays as (

    select * from {{ ref('stg_lastfm__plays') }}

),

final as (

    select
        -- ids
        user_sha1,
        coalesce(artist_mbid, concat('name:', artist_name_normalized)) as artist_id,
        artist_mbid,
        -- names
        artist_name,
        -- measures
        plays
    from plays

)

select * from final
