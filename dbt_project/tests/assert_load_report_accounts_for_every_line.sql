-- Per file, the staged and rejected lines of mart_load_report add up to the lines read, which are
-- the parsed lines (assert_every_raw_line_is_staged_or_rejected ties those to the raw files; the
-- 1.6 GB text is not scanned a second time here).
with

report as (

    select * from {{ ref('mart_load_report') }}

),

raw_lines as (

    select
        'plays' as source_table,
        count(*) as raw_line_count
    from {{ ref('base_lastfm__plays_lines') }}
    union all
    select
        'profiles' as source_table,
        count(*) as raw_line_count
    from {{ ref('base_lastfm__profile_lines') }}

),

accounted as (

    select
        source_table,
        max(lines_read) as lines_read,
        sum(case when outcome in ('staged', 'rejected') then line_count else 0 end) as lines_accounted
    from report
    group by source_table

),

final as (

    select
        raw_lines.source_table,
        raw_lines.raw_line_count,
        accounted.lines_read,
        accounted.lines_accounted
    from raw_lines
    left join accounted
        on raw_lines.source_table = accounted.source_table
    where
        accounted.lines_read is null
        or accounted.lines_read != raw_lines.raw_line_count
        or accounted.lines_accounted != raw_lines.raw_line_count

)

select * from final
