-- Each artist has exactly one canonical spelling, and it is dim_artists.canonical_name.
with

canonical as (

    select
        artist_key,
        count_if(is_canonical) as canonical_count,
        max(case when is_canonical then artist_name end) as canonical_spelling
    from {{ ref('dim_artist_spellings') }}
    group by artist_key

)

select
    artists.artist_key,
    artists.canonical_name,
    canonical.canonical_spelling,
    canonical.canonical_count
from {{ ref('dim_artists') }} as artists
left join canonical
    on artists.artist_key = canonical.artist_key
where
    coalesce(canonical.canonical_count, 0) != 1
    or canonical.canonical_spelling != artists.canonical_name
