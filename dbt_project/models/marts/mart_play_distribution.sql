-- Listens per (user, artist) row and per artist as log2 histograms at each stage of the caps, for
-- the listening-data dashboard: bucket b holds the values from 2^b to 2^(b + 1) - 1 (0 on its own).
with

stage_rows as (

    {{ listens_by_cap_stage() }}

),

artist_totals as (

    select
        stage_order,
        stage_name,
        artist_key,
        sum(listens) as listens
    from stage_rows
    group by stage_order, stage_name, artist_key

),

measured as (

    select
        stage_order,
        stage_name,
        'row' as grain,
        listens
    from stage_rows
    union all
    select
        stage_order,
        stage_name,
        'artist' as grain,
        listens
    from artist_totals

),

-- floor(log2(n)) from the length of n in binary: exact, where log2() in floating point is not
bucketed as (

    select
        stage_order,
        stage_name,
        grain,
        listens,
        case when listens < 1 then -1 else length(bin(listens)) - 1 end as bucket_exponent
    from measured

),

counted as (

    select
        stage_order,
        stage_name,
        grain,
        bucket_exponent,
        count(*) as item_count,
        sum(listens) as total_listens
    from bucketed
    group by stage_order, stage_name, grain, bucket_exponent

),

bounded as (

    select
        stage_order,
        stage_name,
        grain,
        bucket_exponent,
        item_count,
        total_listens,
        case when bucket_exponent < 0 then 0 else shiftleft(1L, bucket_exponent) end as bucket_lower,
        case when bucket_exponent < 0 then 0 else shiftleft(1L, bucket_exponent + 1) - 1 end as bucket_upper
    from counted

),

final as (

    select
        stage_order,
        stage_name,
        grain,
        bucket_exponent,
        bucket_lower,
        bucket_upper,
        -- sorts in bucket order as text (BI tools sort category axes by label)
        case
            when bucket_exponent < 0 then '0'
            when bucket_lower = bucket_upper
                then concat('2^', lpad(cast(bucket_exponent as string), 2, '0'), ': ', bucket_lower)
            else concat(
                '2^', lpad(cast(bucket_exponent as string), 2, '0'), ': ', bucket_lower, '-', bucket_upper
            )
        end as bucket_label,
        item_count,
        total_listens
    from bounded

)

select * from final
