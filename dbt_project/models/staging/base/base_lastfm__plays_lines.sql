-- Every line of the plays file, split into typed fields, with the reason it cannot be staged
-- (null when it can). stg_lastfm__plays and stg_lastfm__rejected_rows both read this.
with

source as (

    select
        value as line,
        'usersha1-artmbid-artname-plays.tsv' as source_file
    from {{ source('lastfm', 'raw_plays') }}

),

split_fields as (

    select
        line,
        source_file,
        split(line, '\t', -1) as field_values
    from source

),

renamed as (

    select
        line,
        source_file,
        size(field_values) as field_count,
        lower({{ field('field_values', 1) }}) as user_sha1,
        {{ field('field_values', 2) }} as artist_mbid_raw,
        {{ field('field_values', 3) }} as artist_name,
        {{ field('field_values', 4) }} as plays_raw
    from split_fields

),

typed as (

    select
        *,
        {{ normalize_mbid('artist_mbid_raw') }} as artist_mbid,
        try_cast(plays_raw as bigint) as plays
    from renamed

),

final as (

    select
        -- the line as read
        source_file,
        line,
        field_count,
        -- parsed fields
        user_sha1,
        artist_mbid_raw,
        artist_mbid,
        artist_name,
        {{ normalize_artist_name('artist_name') }} as artist_name_normalized,
        plays,
        -- flags
        coalesce(artist_mbid_raw != '' and artist_mbid is null, false) as is_mbid_malformed,
        case
            when field_count != 4
                then concat('wrong field count: expected 4 tab-separated fields, got ', field_count)
            when user_sha1 in ('user', 'user_sha1', 'usersha1', 'user-sha1') and plays is null
                then 'header line: the original file has no header'
            when not {{ is_sha1('user_sha1') }}
                then 'user is not a 40-hex sha1'
            when artist_name = ''
                then 'artist name is empty'
            when plays_raw rlike '^-[0-9]+$'
                then 'plays is negative'
            when not coalesce(plays_raw rlike '^[0-9]+$', false)
                then 'plays is not a whole number'
            when plays is null
                then 'plays is out of range'
        end as rejection_reason
    from typed

)

select * from final
