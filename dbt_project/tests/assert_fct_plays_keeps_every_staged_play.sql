-- Merging spellings and duplicate lines loses no play: fct_plays accounts for every staged
-- line and every play. Returns a row when the totals disagree.
with

staged as (

    select
        count(*) as line_count,
        sum(plays) as total_plays
    from {{ ref('stg_lastfm__plays') }}

),

facts as (

    select
        sum(source_rows) as line_count,
        sum(plays) as total_plays
    from {{ ref('fct_plays') }}

)

select
    staged.line_count as staged_lines,
    facts.line_count as fact_lines,
    staged.total_plays as staged_plays,
    facts.total_plays as fact_plays
from staged
cross join facts
where
    staged.line_count != coalesce(facts.line_count, 0)
    or staged.total_plays != coalesce(facts.total_plays, 0)
