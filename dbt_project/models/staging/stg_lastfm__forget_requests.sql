-- The listeners asked to be forgotten: one row per forget.tsv line that names a user sha1, with the
-- batch it came in. A view over the raw files (never stored), read by every model that must drop
-- them (macro forgotten_users).
with

source as (

    select * from {{ ref('base_lastfm__forget_lines') }}

),

final as (

    select
        -- ids
        user_sha1,
        -- batch
        batch_date,
        source_file
    from source
    where rejection_reason is null

)

select * from final
