-- ALS artist factors (from mart_als_factors), one row per artist that had training rows.
with

factors as (

    select * from {{ ref('mart_als_factors') }}

),

final as (

    select
        -- ids
        entity_key as artist_key,
        -- measures
        factors,
        -- metadata
        parameters,
        trained_at
    from factors
    where entity_type = 'artist'

)

select * from final
