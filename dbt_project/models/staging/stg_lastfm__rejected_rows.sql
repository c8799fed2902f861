-- Every input line that could not be staged, with the file it came from and why. Staged rows +
-- rejected rows + erased rows (lines of forgotten listeners) = lines in the files (tested in tests/).
with

plays_lines as (

    select
        source_file,
        batch_date,
        'plays' as source_table,
        line,
        field_count,
        rejection_reason
    from {{ ref('base_lastfm__plays_lines') }}
    where rejection_reason is not null

),

profile_lines as (

    select
        source_file,
        batch_date,
        'profiles' as source_table,
        line,
        field_count,
        rejection_reason
    from {{ ref('base_lastfm__profile_lines') }}
    where rejection_reason is not null

),

forget_lines as (

    select
        source_file,
        batch_date,
        'forget' as source_table,
        line,
        field_count,
        rejection_reason
    from {{ ref('base_lastfm__forget_lines') }}
    where rejection_reason is not null

),

final as (

    select * from plays_lines
    union all
    select * from profile_lines
    union all
    select * from forget_lines

)

select * from final
