-- Every row of each stage lands in exactly one bucket of mart_play_distribution: per stage, the
-- row-grain counts sum to mart_play_statistics.pair_count and the artist-grain counts to artist_count.
with

distribution as (

    select
        stage_name,
        sum(case when grain = 'row' then item_count else 0 end) as bucketed_rows,
        sum(case when grain = 'artist' then item_count else 0 end) as bucketed_artists
    from {{ ref('mart_play_distribution') }}
    group by stage_name

),

statistics as (

    select * from {{ ref('mart_play_statistics') }}

),

final as (

    select
        statistics.stage_name,
        statistics.pair_count,
        statistics.artist_count,
        distribution.bucketed_rows,
        distribution.bucketed_artists
    from statistics
    left join distribution
        on statistics.stage_name = distribution.stage_name
    where
        distribution.bucketed_rows is null
        or distribution.bucketed_rows != statistics.pair_count
        or distribution.bucketed_artists != statistics.artist_count

)

select * from final
