-- One row per (artist, spelling): how often each name was written for the same artist, ranked
-- so that spelling_rank = 1 is the canonical (most played, then most listeners, then A-Z) name.
with

plays as (

    select * from {{ ref('int_plays_keyed_by_artist') }}

),

spellings as (

    select
        artist_id,
        artist_name,
        sum(plays) as plays,
        count(distinct user_sha1) as listeners,
        count(*) as source_rows
    from plays
    group by artist_id, artist_name

),

final as (

    select
        *,
        row_number() over (
            partition by artist_id
            order by plays desc, listeners desc, artist_name asc
        ) as spelling_rank
    from spellings

)

select * from final
