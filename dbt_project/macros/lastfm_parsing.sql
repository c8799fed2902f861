{# Small SQL expressions shared by the staging models. #}

{% macro is_sha1(column) -%}
    coalesce({{ column }} rlike '^[0-9a-f]{40}$', false)
{%- endmacro %}

{#- A field of a split line, or null when the line has fewer fields. -#}
{% macro field(fields, position) -%}
    trim(try_element_at({{ fields }}, {{ position }}))
{%- endmacro %}

{#- MBIDs are written several ways: lower the case, drop braces, restore missing hyphens. -#}
{% macro normalize_mbid(column) -%}
    case
        when regexp_replace(lower({{ column }}), '[{}]', '')
            rlike '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            then regexp_replace(lower({{ column }}), '[{}]', '')
        when lower({{ column }}) rlike '^[0-9a-f]{32}$'
            then concat_ws(
                '-',
                substr(lower({{ column }}), 1, 8),
                substr(lower({{ column }}), 9, 4),
                substr(lower({{ column }}), 13, 4),
                substr(lower({{ column }}), 17, 4),
                substr(lower({{ column }}), 21, 12)
            )
    end
{%- endmacro %}

{#- Key for artists without a valid MBID: lower case, single spaces. -#}
{% macro normalize_artist_name(column) -%}
    lower(regexp_replace(trim({{ column }}), '\\s+', ' '))
{%- endmacro %}
