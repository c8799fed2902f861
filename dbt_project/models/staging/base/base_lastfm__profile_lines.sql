-- Every line of the profile file, split into typed fields, with the reason it cannot be staged
-- (null when it can). stg_lastfm__profiles and stg_lastfm__rejected_rows both read this.
with

source as (

    select
        value as line,
        'usersha1-profile.tsv' as source_file
    from {{ source('lastfm', 'raw_profiles') }}

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
        lower({{ field('field_values', 2) }}) as gender_raw,
        {{ field('field_values', 3) }} as age_raw,
        {{ field('field_values', 4) }} as country_raw,
        {{ field('field_values', 5) }} as signup_raw
    from split_fields

),

typed as (

    select
        *,
        try_cast(age_raw as int) as age,
        try_to_date(signup_raw, 'MMM d, yyyy') as signup_date
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
        nullif(gender_raw, '') as gender,
        age,
        nullif(country_raw, '') as country,
        signup_date,
        case
            when field_count != 5
                then concat('wrong field count: expected 5 tab-separated fields, got ', field_count)
            when not {{ is_sha1('user_sha1') }}
                then 'user is not a 40-hex sha1'
            when gender_raw not in ('m', 'f', '')
                then 'gender is not m, f or empty'
            when age_raw != '' and age is null
                then 'age is not a whole number'
            when signup_raw != '' and signup_date is null
                then 'signup is not a date like "Feb 1, 2007"'
        end as rejection_reason
    from typed

)

select * from final
