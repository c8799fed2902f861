-- ALS user factors (from mart_als_factors), one row per user that had training rows.
with

factors as (

    select * from {{ ref('mart_als_factors') }}

),

final as (

    select
        -- ids
        entity_key as user_key,
        -- measures
        factors,
        -- metadata
        parameters,
        trained_at
    from factors
    where entity_type = 'user'

)

select * from final
