-- Every line of every batch's forget.tsv (one user sha1 per line), cleaned as the other files are,
-- with the reason it cannot be read (null when it can). A view, never stored: the warehouse keeps
-- no list of the listeners it forgot.
{{ config(materialized='view') }}

with

source as (

    {{ raw_lines(none, 'raw_batch_forget', var('forget_file')) }}

),

checked as (

    select
        *,
        {{ line_checks('line_read') }}
    from source

),

cleaned as (

    select
        source_file,
        batch_date,
        {{ clean_line('line_read', 'has_invalid_utf8', 'has_stray_characters') }} as line,
        has_invalid_utf8,
        has_stray_characters
    from checked

),

split_fields as (

    select
        *,
        size(split(line, '\t', -1)) as field_count_read,
        {{ split_record('line', 1) }} as field_values
    from cleaned

),

renamed as (

    select
        source_file,
        batch_date,
        line,
        has_invalid_utf8,
        has_stray_characters,
        field_count_read,
        size(field_values) as field_count,
        {{ field('field_values', 1) }} as user_raw,
        {{ record('line', 'field_values', 'field_count_read') }} as record
    from split_fields

),

numbered as (

    {{ with_record_copies('renamed') }}

),

typed as (

    select
        *,
        lower(user_raw) as user_sha1
    from numbered

),

judged as (

    select
        *,
        {{ line_cleanings() }} as line_cleanings,
        {{ labels([
            "case when user_raw != user_sha1 then 'user sha1 lower-cased' end",
        ]) }} as field_cleanings,
        case
            {{ line_rejections(1) }}
            when record_copy > 1
                then 'duplicate line: an identical line is staged'
        end as rejection_reason
    from typed

),

final as (

    select
        -- the line as read
        source_file,
        batch_date,
        line,
        field_count,
        -- parsed fields
        user_sha1,
        -- what was repaired, and why the line is not read (null when it is)
        {{ staged_cleanings() }} as cleanings,
        rejection_reason
    from judged

)

select * from final
