-- Quality gate: ALS and kNN must rank held-out artists better than recommending the most popular
-- ones. Returns each model whose NDCG@k is not above the baseline's (or that is missing), once the
-- baseline was scored on at least var('quality_gate_min_users') users; with fewer,
-- warn_quality_gate_has_too_few_users says so instead.
with

ndcg as (

    select
        model,
        value,
        users_evaluated
    from {{ ref('mart_model_evaluation') }}
    where metric = 'ndcg' and k = {{ var('evaluation_k') }}

),

baseline as (

    select
        max(case when model = 'popularity' then value end) as baseline_ndcg,
        max(case when model = 'popularity' then users_evaluated end) as users_evaluated
    from ndcg

),

required_models as (

    select 'als' as model_name
    union all
    select 'knn' as model_name

)

select
    required_models.model_name,
    ndcg.value as model_ndcg,
    baseline.baseline_ndcg
from required_models
cross join baseline
left join ndcg
    on required_models.model_name = ndcg.model
where
    baseline.baseline_ndcg is null
    or (
        baseline.users_evaluated >= {{ var('quality_gate_min_users') }}
        and coalesce(ndcg.value, 0) <= baseline.baseline_ndcg
    )
