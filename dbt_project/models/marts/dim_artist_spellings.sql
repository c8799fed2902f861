-- Bridge from each artist to every name it was written with (BI tools cannot read arrays).
with

spellings as (

    select * from {{ ref('int_artist_spellings') }}

),

artists as (

    select
        artist_key,
        artist_id
    from {{ ref('dim_artists') }}

),

final as (

    select
        -- ids
        artists.artist_key,
        -- names
        spellings.artist_name,
        -- measures
        spellings.plays,
        spellings.listeners,
        spellings.source_rows,
        spellings.spelling_rank,
        -- flags
        spellings.spelling_rank = 1 as is_canonical
    from spellings
    inner join artists
        on spellings.artist_id = artists.artist_id

)

select * from final
