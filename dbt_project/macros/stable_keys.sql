{#
    The surrogate keys of a key map (int_user_keys, int_artist_keys): the rows of `source` whose
    `id_column` the map has not seen get the next integers, in `id_column` order, after the largest
    key given so far; keys already given are never recomputed. The model is incremental (append)
    with full_refresh = false, so neither a new build nor `dbt build --full-refresh` changes a key
    once given: yesterday's extract or dashboard still names the same listener or artist.
    Hand-written because dbt has no key-map feature; a hash of the id would be stable too, but ALS
    needs 32-bit integer ids, where hashes of 360K users would collide.
#}
{% macro stable_keys(source, id_column, key_column) %}

with

ids as (

    select distinct {{ id_column }} from {{ source }}

),

known as (

    {%- if is_incremental() %}
    select
        {{ id_column }},
        {{ key_column }}
    from {{ this }}
    {%- else %}
    select
        {{ id_column }},
        cast(null as int) as {{ key_column }}
    from ids
    where false
    {%- endif %}

),

unseen as (

    select ids.{{ id_column }}
    from ids
    left anti join known
        on ids.{{ id_column }} = known.{{ id_column }}

),

last_key as (

    select coalesce(max({{ key_column }}), 0) as {{ key_column }}
    from known

),

final as (

    select
        unseen.{{ id_column }},
        cast(
            last_key.{{ key_column }} + row_number() over (order by unseen.{{ id_column }} asc)
            as int
        ) as {{ key_column }},
        current_timestamp() as keyed_at
    from unseen
    cross join last_key

)

select * from final

{% endmacro %}
