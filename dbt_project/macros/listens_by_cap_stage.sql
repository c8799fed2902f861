{#-
    Every (user, artist) row at each stage of the caps, as one relation: uncapped (fct_plays.plays),
    plays_capped (fct_plays.plays_capped) and artist_rows_capped (fct_plays_balanced, capped plays).
    mart_play_statistics and mart_play_distribution describe the same three stages from it.
-#}
{% macro listens_by_cap_stage() -%}
    select
        1 as stage_order,
        'uncapped' as stage_name,
        user_key,
        artist_key,
        plays as listens
    from {{ ref('fct_plays') }}
    union all
    select
        2 as stage_order,
        'plays_capped' as stage_name,
        user_key,
        artist_key,
        plays_capped as listens
    from {{ ref('fct_plays') }}
    union all
    select
        3 as stage_order,
        'artist_rows_capped' as stage_name,
        user_key,
        artist_key,
        plays_capped as listens
    from {{ ref('fct_plays_balanced') }}
{%- endmacro %}
