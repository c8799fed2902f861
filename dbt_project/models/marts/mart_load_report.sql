-- How the raw files loaded: per file (the two original files and each batch's files), lines read,
-- staged, rejected and erased (lines of listeners a forget.tsv names), each rejection reason and
-- each cleaning with the lines it touched. Lines read = staged + rejected + erased (tested).
with

plays_lines as (

    select
        'plays' as source_table,
        source_file,
        batch_date,
        rejection_reason,
        cleanings,
        is_erased
    from {{ ref('base_lastfm__plays_lines') }}

),

profile_lines as (

    select
        'profiles' as source_table,
        source_file,
        batch_date,
        rejection_reason,
        cleanings,
        is_erased
    from {{ ref('base_lastfm__profile_lines') }}

),

forget_lines as (

    select
        'forget' as source_table,
        source_file,
        batch_date,
        rejection_reason,
        cleanings,
        false as is_erased
    from {{ ref('base_lastfm__forget_lines') }}

),

lines as (

    select * from plays_lines
    union all
    select * from profile_lines
    union all
    select * from forget_lines

),

file_totals as (

    select
        source_table,
        source_file,
        batch_date,
        count(*) as lines_read
    from lines
    group by source_table, source_file, batch_date

),

outcomes as (

    select
        source_table,
        source_file,
        case
            when is_erased then 'erased'
            when rejection_reason is null then 'staged'
            else 'rejected'
        end as outcome,
        case
            when is_erased then 'erased: the listener asked to be forgotten (forget.tsv)'
            else coalesce(rejection_reason, 'staged')
        end as check_name,
        count(*) as line_count,
        count_if(rejection_reason is null and not is_erased) as staged_line_count
    from lines
    group by
        source_table,
        source_file,
        case
            when is_erased then 'erased'
            when rejection_reason is null then 'staged'
            else 'rejected'
        end,
        case
            when is_erased then 'erased: the listener asked to be forgotten (forget.tsv)'
            else coalesce(rejection_reason, 'staged')
        end

),

cleaned_lines as (

    select
        source_table,
        source_file,
        rejection_reason,
        is_erased,
        explode(cleanings) as check_name
    from lines

),

cleanings as (

    select
        source_table,
        source_file,
        'cleaned' as outcome,
        check_name,
        count(*) as line_count,
        count_if(rejection_reason is null and not is_erased) as staged_line_count
    from cleaned_lines
    group by source_table, source_file, check_name

),

-- Spark's text reader skips a byte-order mark at the very start of a file: the file is checked
-- when the raw tables are created (create_raw_sources) and counted here as one cleaned line.
file_boms as (

    select
        source_table,
        source_file,
        'cleaned' as outcome,
        'byte-order mark at the start of the file skipped' as check_name,
        1 as line_count,
        1 as staged_line_count
    from {{ source('lastfm', 'raw_files') }}
    where starts_with_bom

),

checks as (

    select * from outcomes
    union all
    select * from cleanings
    union all
    select * from file_boms

),

final as (

    select
        -- file
        checks.source_table,
        checks.source_file,
        file_totals.batch_date,
        -- check
        checks.outcome,
        checks.check_name,
        -- counts
        checks.line_count,
        checks.staged_line_count,
        file_totals.lines_read,
        checks.line_count / file_totals.lines_read as share_of_lines
    from checks
    inner join file_totals
        on
            checks.source_table = file_totals.source_table
            and checks.source_file = file_totals.source_file

)

select * from final
