-- A user's listening history by name, for the recommendations dashboard's "what they played".
-- A view: a dashboard filters it by user_sha1, which Spark pushes into the dim_users side of the join.
{{ config(materialized='view') }}

with

plays as (

    select * from {{ ref('fct_plays') }}

),

users as (

    select * from {{ ref('dim_users') }}

),

artists as (

    select * from {{ ref('dim_artists') }}

),

final as (

    select
        users.user_sha1,
        artists.canonical_name as artist_name,
        artists.artist_mbid,
        plays.plays,
        plays.plays_capped,
        plays.user_key,
        plays.artist_key
    from plays
    inner join users
        on plays.user_key = users.user_key
    inner join artists
        on plays.artist_key = artists.artist_key

)

select * from final
