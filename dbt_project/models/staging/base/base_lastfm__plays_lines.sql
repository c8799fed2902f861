-- Every line of the plays file, cleaned, split into typed fields, with the cleanings applied and the
-- reason it cannot be staged (null when it can). stg_lastfm__plays and stg_lastfm__rejected_rows
-- both read this; mart_load_report counts both.
{{ config(lines_table_config('plays')) }}

with

source as (

    {{ raw_lines('raw_plays', 'raw_batch_plays', var('plays_file'), files_to_load('plays')) }}

),

-- what the line needs repaired, found once: the repairs then run only on the few lines that
-- need them (every line through the replace cost ~20 s more per read of the full-size plays file)
checked as (

    select
        *,
        {{ line_checks('line_read') }}
    from source

),

cleaned as (

    select
        source_file,
        source_fingerprint,
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
        {{ split_record('line', 4) }} as field_values
    from cleaned

),

renamed as (

    select
        source_file,
        source_fingerprint,
        batch_date,
        line,
        has_invalid_utf8,
        has_stray_characters,
        field_count_read,
        size(field_values) as field_count,
        {{ field('field_values', 1) }} as user_raw,
        {{ field('field_values', 2) }} as artist_mbid_raw,
        {{ field('field_values', 3) }} as artist_name_raw,
        {{ field('field_values', 4) }} as plays_raw,
        {{ record('line', 'field_values', 'field_count_read') }} as record
    from split_fields

),

-- identical records after cleaning: the first is staged, the others are duplicates
numbered as (

    {{ with_record_copies('renamed') }}

),

typed as (

    select
        *,
        lower(user_raw) as user_sha1,
        {{ normalize_mbid('artist_mbid_raw') }} as artist_mbid,
        trim({{ csv_unquoted('artist_name_raw') }}) as artist_name,
        {{ whole_number('plays_raw') }} as plays
    from numbered

),

-- lines of listeners a forget.tsv names: kept only to be counted (mart_load_report), without
-- anything that could name the listener
forgotten as (

    {{ forgotten_users() }}

),

erasable as (

    select /*+ broadcast(forgotten) */
        typed.*,
        forgotten.user_sha1 is not null as is_erased
    from typed
    left join forgotten
        on typed.user_sha1 = forgotten.user_sha1

),

-- repairs of the line (counted whatever happens to it) and of its fields (counted when staged),
-- and the reason the line is rejected: the first that applies
judged as (

    select
        *,
        {{ line_cleanings() }} as line_cleanings,
        {{ labels([
            "case when user_raw != user_sha1 then 'user sha1 lower-cased' end",
            "case when artist_mbid != artist_mbid_raw then 'MBID normalised (case, hyphens, braces)' end",
            "case when artist_mbid_raw != '' and artist_mbid is null"
                ~ " then 'MBID malformed: artist keyed by name' end",
            "case when " ~ is_csv_quoted('artist_name_raw') ~ " then 'CSV quoting removed from artist name' end",
            "case when plays is not null and not plays_raw rlike '^[+-]?[0-9]+$'"
                ~ " then 'plays written as a decimal (1099.0)' end",
        ]) }} as field_cleanings,
        case
            {{ line_rejections(4) }}
            when artist_name = ''
                then 'artist name is empty'
            when length(artist_name) > {{ var('max_field_length') }}
                then 'artist name is longer than {{ var("max_field_length") }} characters'
            when {{ is_number_out_of_range('plays_raw') }}
                then 'plays is out of range'
            when plays < 0
                then 'plays is negative'
            when plays is null
                then 'plays is not a whole number'
            when record_copy > 1
                then 'duplicate line: an identical line is staged'
        end as rejection_reason
    from erasable

),

final as (

    select
        -- the line as read (an erased listener's line is not kept)
        source_file,
        source_fingerprint,
        batch_date,
        case when not is_erased then line end as line,
        field_count,
        -- parsed fields
        case when not is_erased then user_sha1 end as user_sha1,
        artist_mbid_raw,
        artist_mbid,
        artist_name,
        {{ normalize_artist_name('artist_name') }} as artist_name_normalized,
        plays,
        -- flags
        coalesce(artist_mbid_raw != '' and artist_mbid is null, false) as is_mbid_malformed,
        -- what was repaired, and why the line is not staged (null when it is)
        case
            when is_erased then cast(array() as array<string>)
            else {{ staged_cleanings() }}
        end as cleanings,
        case when not is_erased then rejection_reason end as rejection_reason,
        is_erased
    from judged

)

select * from final
