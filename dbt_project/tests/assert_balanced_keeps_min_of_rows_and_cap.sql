-- fct_plays_balanced keeps, for every artist, min(rows in fct_plays, max_rows_per_artist) rows:
-- artists under the cap keep all their rows, none is dropped entirely.
with

all_rows as (

    select
        artist_key,
        count(*) as pair_count
    from {{ ref('fct_plays') }}
    group by artist_key

),

kept_rows as (

    select
        artist_key,
        count(*) as pair_count
    from {{ ref('fct_plays_balanced') }}
    group by artist_key

)

select
    all_rows.artist_key,
    all_rows.pair_count as fact_rows,
    coalesce(kept_rows.pair_count, 0) as kept_rows
from all_rows
left join kept_rows
    on all_rows.artist_key = kept_rows.artist_key
where coalesce(kept_rows.pair_count, 0) != least(all_rows.pair_count, {{ var('max_rows_per_artist') }})
