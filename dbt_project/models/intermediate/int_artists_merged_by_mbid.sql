-- One row per artist: every spelling of an MBID merged into one artist, with its canonical name.
with

plays as (

    select * from {{ ref('int_plays_keyed_by_artist') }}

),

spellings as (

    select * from {{ ref('int_artist_spellings') }}

),

artist_plays as (

    select
        artist_id,
        max(artist_mbid) as artist_mbid,
        sum(plays) as total_plays,
        count(distinct user_sha1) as listeners
    from plays
    group by artist_id

),

artist_names as (

    select
        artist_id,
        max(case when spelling_rank = 1 then artist_name end) as canonical_name,
        array_sort(collect_list(artist_name)) as spellings,
        count(*) as spelling_count
    from spellings
    group by artist_id

),

final as (

    select
        -- ids
        artist_plays.artist_id,
        artist_plays.artist_mbid,
        -- names
        artist_names.canonical_name,
        artist_names.spellings,
        artist_names.spelling_count,
        -- measures
        artist_plays.total_plays,
        artist_plays.listeners
    from artist_plays
    inner join artist_names
        on artist_plays.artist_id = artist_names.artist_id

)

select * from final
