-- Per kind of file, the staged, rejected and erased lines of mart_load_report add up to the lines
-- read, which are the parsed lines (assert_every_raw_line_is_staged_or_rejected ties those to the
-- raw files; the 1.6 GB text is not scanned a second time here).
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
    union all
    select
        'forget' as source_table,
        count(*) as raw_line_count
    from {{ ref('base_lastfm__forget_lines') }}

),

file_totals as (

    select distinct
        source_table,
        source_file,
        lines_read
    from report

),

read_per_table as (

    select
        source_table,
        sum(lines_read) as lines_read
    from file_totals
    group by source_table

),

accounted as (

    select
        report.source_table,
        max(read_per_table.lines_read) as lines_read,
        sum(
            case when report.outcome in ('staged', 'rejected', 'erased') then report.line_count else 0 end
        ) as lines_accounted
    from report
    inner join read_per_table
        on report.source_table = read_per_table.source_table
    group by report.source_table

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
        coalesce(accounted.lines_read, 0) != raw_lines.raw_line_count
        or coalesce(accounted.lines_accounted, 0) != raw_lines.raw_line_count

)

select * from final
