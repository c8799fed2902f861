-- The descriptive table to check before modelling: listens per row and per artist at each stage
-- (as listened, after the plays cap, after the per-artist row cap).
with

stage_rows as (

    {{ listens_by_cap_stage() }}

),

per_row as (

    select
        stage_order,
        stage_name,
        count(*) as pair_count,
        sum(listens) as total_listens,
        avg(listens) as mean_listens_per_row,
        min(listens) as min_listens_per_row,
        max(listens) as max_listens_per_row,
        percentile_approx(listens, 0.5) as median_listens_per_row
    from stage_rows
    group by stage_order, stage_name

),

artist_totals as (

    select
        stage_order,
        artist_key,
        sum(listens) as artist_listens,
        count(*) as artist_pairs
    from stage_rows
    group by stage_order, artist_key

),

-- distinct users per stage: stages 1 and 2 are the same fct_plays rows (listens_by_cap_stage:
-- only the listens differ), so their users are counted once (the distinct (stage, user) pairs of
-- all 43M stage rows took 5-12 s more at full size, measured); one distinct count per aggregate
-- (two in one make Spark expand every row once per count: this model took 144 s that way)
fct_plays_users as (

    select count(distinct user_key) as user_count
    from {{ ref('fct_plays') }}

),

plays_stages as (

    select 1 as stage_order
    union all
    select 2 as stage_order

),

user_counts as (

    select
        plays_stages.stage_order,
        fct_plays_users.user_count
    from plays_stages
    cross join fct_plays_users
    union all
    select
        3 as stage_order,
        count(distinct user_key) as user_count
    from {{ ref('fct_plays_balanced') }}

),

per_artist as (

    select
        stage_order,
        count(*) as artist_count,
        avg(artist_listens) as mean_listens_per_artist,
        min(artist_listens) as min_listens_per_artist,
        max(artist_listens) as max_listens_per_artist,
        percentile_approx(artist_listens, 0.5) as median_listens_per_artist,
        max(artist_pairs) as max_pairs_per_artist
    from artist_totals
    group by stage_order

),

final as (

    select
        -- stage
        per_row.stage_order,
        per_row.stage_name,
        -- counts
        per_row.pair_count,
        user_counts.user_count,
        per_artist.artist_count,
        -- listens per row
        per_row.total_listens,
        per_row.mean_listens_per_row,
        per_row.min_listens_per_row,
        per_row.max_listens_per_row,
        per_row.median_listens_per_row,
        -- listens per artist
        per_artist.mean_listens_per_artist,
        per_artist.min_listens_per_artist,
        per_artist.max_listens_per_artist,
        per_artist.median_listens_per_artist,
        per_artist.max_pairs_per_artist,
        -- parameters
        {{ var('plays_cap') }} as plays_cap,
        {{ var('max_rows_per_artist') }} as artist_row_cap
    from per_row
    inner join per_artist
        on per_row.stage_order = per_artist.stage_order
    inner join user_counts
        on per_row.stage_order = user_counts.stage_order

)

select * from final
