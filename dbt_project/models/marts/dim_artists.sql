-- One row per artist, merged by MBID; artists without a valid MBID are kept, keyed by their
-- normalised name. artist_key is a dense integer (1..n, in artist_id order) for the recommenders.
with

artists as (

    select * from {{ ref('int_artists_merged_by_mbid') }}

),

final as (

    select
        -- ids
        row_number() over (order by artist_id asc) as artist_key,
        artist_id,
        artist_mbid,
        -- names
        canonical_name,
        spellings,
        spelling_count,
        -- measures
        total_plays,
        listeners,
        -- flags
        artist_mbid is not null as has_mbid
    from artists

)

select * from final
