-- Nothing is lost: for each raw file, staged rows + rejected rows = lines read.
-- Returns the files where the counts disagree.
with

raw_lines as (

    select
        'plays' as source_table,
        count(*) as line_count
    from {{ source('lastfm', 'raw_plays') }}
    union all
    select
        'profiles' as source_table,
        count(*) as line_count
    from {{ source('lastfm', 'raw_profiles') }}

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

),

rejected as (

    select
        source_table,
        count(*) as rejected_count
    from {{ ref('stg_lastfm__rejected_rows') }}
    group by source_table

),

final as (

    select
        raw_lines.source_table,
        raw_lines.line_count,
        staged.staged_count,
        coalesce(rejected.rejected_count, 0) as rejected_count
    from raw_lines
    inner join staged
        on raw_lines.source_table = staged.source_table
    left join rejected
        on raw_lines.source_table = rejected.source_table

)

select * from final
where line_count != staged_count + rejected_count
