-- Nothing is lost: for each kind of raw file (the original file and every batch's), staged rows +
-- rejected rows + erased rows (lines of forgotten listeners) = lines read.
-- Returns the kinds where the counts disagree.
with

raw_lines as (

    select
        'plays' as source_table,
        count(*) as line_count
    from (
        select value from {{ source('lastfm', 'raw_plays') }}
        union all
        select value from {{ source('lastfm', 'raw_batch_plays') }}
    )
    union all
    select
        'profiles' as source_table,
        count(*) as line_count
    from (
        select value from {{ source('lastfm', 'raw_profiles') }}
        union all
        select value from {{ source('lastfm', 'raw_batch_profiles') }}
    )
    union all
    select
        'forget' as source_table,
        count(*) as line_count
    from {{ source('lastfm', 'raw_batch_forget') }}

),

staged as (

    select
        'plays' as source_table,
        count(*) as staged_count
    from {{ ref('stg_lastfm__plays') }}
    union all
    select
        'profiles' as source_table,
        count(*) as staged_count
    from {{ ref('stg_lastfm__profiles') }}
    union all
    select
        'forget' as source_table,
        count(*) as staged_count
    from {{ ref('stg_lastfm__forget_requests') }}

),

rejected as (

    select
        source_table,
        count(*) as rejected_count
    from {{ ref('stg_lastfm__rejected_rows') }}
    group by source_table

),

erased as (

    select
        'plays' as source_table,
        count_if(is_erased) as erased_count
    from {{ ref('base_lastfm__plays_lines') }}
    union all
    select
        'profiles' as source_table,
        count_if(is_erased) as erased_count
    from {{ ref('base_lastfm__profile_lines') }}

),

final as (

    select
        raw_lines.source_table,
        raw_lines.line_count,
        staged.staged_count,
        coalesce(rejected.rejected_count, 0) as rejected_count,
        coalesce(erased.erased_count, 0) as erased_count
    from raw_lines
    inner join staged
        on raw_lines.source_table = staged.source_table
    left join rejected
        on raw_lines.source_table = rejected.source_table
    left join erased
        on raw_lines.source_table = erased.source_table

)

select * from final
where line_count != staged_count + rejected_count + erased_count
