-- Every line of the profile file, cleaned, split into typed fields, with the cleanings applied and
-- the reason it cannot be staged (null when it can). A field that cannot be read (gender, age,
-- country, signup) becomes null and is counted as a cleaning: the user keeps everything else.
{{ config(lines_table_config('profiles')) }}

with

source as (

    {{ raw_lines('raw_profiles', 'raw_batch_profiles', var('profiles_file'), files_to_load('profiles')) }}

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
        {{ split_record('line', 5) }} as field_values
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
        lower({{ field('field_values', 2) }}) as gender_raw,
        {{ field('field_values', 3) }} as age_raw,
        {{ field('field_values', 4) }} as country_raw,
        {{ field('field_values', 5) }} as signup_raw,
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
        case
            when gender_raw in ('m', 'male') then 'm'
            when gender_raw in ('f', 'female') then 'f'
        end as gender_parsed,
        -- a dataframe tool writes a missing age as one of these
        coalesce(lower(age_raw) in ('nan', 'na', 'n/a', 'null', 'none'), false) as is_age_missing_marker,
        {{ whole_number('age_raw') }} as age_number,
        {{ csv_unquoted('country_raw') }} as country_unquoted,
        coalesce(
            try_to_date(signup_raw, 'MMM d, yyyy'),
            try_to_date(substr(signup_raw, 1, 10), 'yyyy-MM-dd')
        ) as signup_parsed
    from numbered

),

flagged as (

    select
        *,
        coalesce(gender_raw != '' and gender_parsed is null, false) as is_gender_invalid,
        coalesce(
            age_raw != ''
            and not is_age_missing_marker
            and (age_number is null or age_number not between -2147483648 and 2147483647),
            false
        ) as is_age_invalid,
        coalesce(length(country_unquoted) > {{ var('max_field_length') }}, false) as is_country_invalid,
        coalesce(signup_raw != '' and signup_parsed is null, false) as is_signup_invalid
    from typed

),

-- lines of listeners a forget.tsv names: kept only to be counted (mart_load_report), without
-- anything that could name the listener
forgotten as (

    {{ forgotten_users() }}

),

erasable as (

    select /*+ broadcast(forgotten) */
        flagged.*,
        forgotten.user_sha1 is not null as is_erased
    from flagged
    left join forgotten
        on flagged.user_sha1 = forgotten.user_sha1

),

-- repairs of the line (counted whatever happens to it) and of its fields (counted when staged),
-- and the reason the line is rejected: the first that applies
judged as (

    select
        *,
        {{ line_cleanings() }} as line_cleanings,
        {{ labels([
            "case when user_raw != user_sha1 then 'user sha1 lower-cased' end",
            "case when gender_raw in ('male', 'female') then 'gender written as a word' end",
            "case when is_gender_invalid then 'gender not m, f or empty: set to null' end",
            "case when age_number is not null and not age_raw rlike '^[+-]?[0-9]+$'"
                ~ " then 'age written as a decimal (22.0)' end",
            "case when is_age_missing_marker"
                ~ " then 'age written as a missing-value marker (nan, NA, null)' end",
            "case when is_age_invalid then 'age not a whole number: set to null' end",
            "case when " ~ is_csv_quoted('country_raw') ~ " then 'CSV quoting removed from country' end",
            "case when is_country_invalid then 'country longer than "
                ~ var('max_field_length') ~ " characters: set to null' end",
            "case when signup_raw rlike '^[0-9]{4}-' and signup_parsed is not null"
                ~ " then 'signup written as an ISO date' end",
            "case when is_signup_invalid then 'signup not a date like \"Feb 1, 2007\": set to null' end",
        ]) }} as field_cleanings,
        case
            {{ line_rejections(5) }}
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
        gender_parsed as gender,
        case when not is_age_invalid then cast(age_number as int) end as age,
        case when not is_country_invalid then nullif(country_unquoted, '') end as country,
        signup_parsed as signup_date,
        -- fields that could not be read (set to null; the line is staged)
        is_gender_invalid,
        is_age_invalid,
        is_country_invalid,
        is_signup_invalid,
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
