-- mart_model_evaluation beside its baseline, for the model-quality dashboard: each metric's value,
-- the most-popular baseline's value for the same metric and the lift over it (the baseline is the
-- model mart_model_evaluation names popularity, as assert_recommenders_beat_popularity reads it).
{{ config(materialized='view') }}

with

evaluation as (

    select * from {{ ref('mart_model_evaluation') }}

),

baseline as (

    select
        metric,
        value as baseline_value
    from evaluation
    where model = 'popularity'

),

final as (

    select
        evaluation.model,
        case
            when evaluation.model = 'popularity' then concat(evaluation.model, ' (baseline)')
            else evaluation.model
        end as model_label,
        evaluation.model = 'popularity' as is_baseline,
        evaluation.metric,
        evaluation.k,
        evaluation.value,
        baseline.baseline_value,
        evaluation.value / nullif(baseline.baseline_value, 0) as lift_over_baseline,
        evaluation.users_evaluated,
        evaluation.parameters,
        evaluation.seconds,
        evaluation.built_at
    from evaluation
    left join baseline
        on evaluation.metric = baseline.metric

)

select * from final
