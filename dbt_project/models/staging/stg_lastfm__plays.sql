with

source as (

    select * from {{ ref('base_lastfm__plays_lines') }}

),

final as (

    select
        -- ids
        user_sha1,
        artist_mbid,
        artist_mbid_raw,
        -- names
        artist_name,
        artist_name_normalized,
        -- measures
        plays,
        -- flags
        is_mbid_malformed,
        -- batch (null: the original file)
        batch_date
    from source
    where rejection_reason is null and not is_erased

)

select * from final
