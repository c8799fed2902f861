-- Users by country, age band and gender, for the listening-data dashboard. Imputed ages form their
-- own band: they are the mean age, not what the users said. The top band (90+ with 10-year bands)
-- holds every older age too, so that every label has two digits and sorts as text.
{% set width = var('age_band_years') %}
{% set top = (90 // width) * width %}

with

users as (

    select * from {{ ref('dim_users') }}

),

banded as (

    select
        coalesce(country, 'unknown') as country,
        coalesce(gender, 'unknown') as gender,
        is_age_imputed,
        case
            when is_age_imputed then null
            else least(cast(floor(age / {{ width }}) * {{ width }} as int), {{ top }})
        end as age_band_start
    from users

),

final as (

    select
        country,
        gender,
        age_band_start,
        case
            when age_band_start is null then 'imputed'
            when age_band_start = {{ top }} then '{{ top }}+'
            else concat(
                lpad(cast(age_band_start as string), 2, '0'),
                '-',
                lpad(cast(age_band_start + {{ width }} - 1 as string), 2, '0')
            )
        end as age_band,
        count(*) as user_count
    from banded
    group by country, gender, age_band_start

)

select * from final
