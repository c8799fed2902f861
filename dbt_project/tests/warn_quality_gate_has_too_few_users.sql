-- Warns (does not fail) when the quality gate cannot judge: the most-popular baseline was scored on
-- fewer than var('quality_gate_min_users') evaluated users (a tiny or test file), so NDCG@k's error
-- is as large as the differences assert_recommenders_beat_popularity compares. The row says how
-- many users there were and what would let the gate judge.
{{ config(severity='warn') }}

with

evaluation as (

    select * from {{ ref('mart_model_evaluation') }}

),

baseline as (

    select users_evaluated
    from evaluation
    where model = 'popularity' and metric = 'ndcg' and k = {{ var('evaluation_k') }}

),

final as (

    select
        users_evaluated,
        {{ var('quality_gate_min_users') }} as quality_gate_min_users,
        concat(
            'quality gate not applied: ', cast(users_evaluated as string),
            ' evaluated users, fewer than var quality_gate_min_users (',
            cast({{ var('quality_gate_min_users') }} as string),
            '); more listeners with at least var holdout_min_artists artists would let it judge'
        ) as reason
    from baseline
    where users_evaluated < {{ var('quality_gate_min_users') }}

)

select * from final
