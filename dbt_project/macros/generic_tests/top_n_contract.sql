{#
    The contract of every top-N mart: one row per (query, rank), ranks 1..n without gaps, scores
    non-increasing with rank, no item twice for a query, and - when exclude_model is given - no
    (query, item) pair that exists there (e.g. nothing the user already played).
    Returns the offending rows.
#}
{% test top_n_contract(model, query_column, item_column, rank_column='rank', score_column='score', exclude_model=none) %}
    with

    rows_ranked as (

        select
            {{ query_column }} as query_key,
            {{ item_column }} as item_key,
            {{ rank_column }} as item_rank,
            {{ score_column }} as item_score,
            row_number() over (
                partition by {{ query_column }} order by {{ rank_column }} asc
            ) as expected_rank,
            lag({{ score_column }}) over (
                partition by {{ query_column }} order by {{ rank_column }} asc
            ) as previous_score,
            count(*) over (partition by {{ query_column }}, {{ item_column }}) as item_count
        from {{ model }}

    )

    select
        query_key,
        item_key,
        item_rank,
        case
            when item_rank != expected_rank then 'rank gap or duplicate rank'
            when previous_score < item_score then 'score increases with rank'
            when item_count > 1 then 'item listed twice'
            else 'item excluded for this query'
        end as violation
    from rows_ranked
    where
        item_rank != expected_rank
        or previous_score < item_score
        or item_count > 1
        {%- if exclude_model is not none %}
        or exists (
            select 1
            from {{ exclude_model }} as excluded
            where
                excluded.{{ query_column }} = rows_ranked.query_key
                and excluded.{{ item_column }} = rows_ranked.item_key
        )
        {%- endif %}
{% endtest %}
