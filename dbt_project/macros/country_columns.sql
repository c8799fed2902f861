{#
    The one-hot country columns of dim_users, read from the lastfm_countries seed:
    a list of (country_name, column_name) pairs, column_name = 'country_' ~ country_slug.
    Empty while dbt parses (nothing is queried then).
#}
{% macro country_columns() %}
    {% if not execute %}
        {% do return([]) %}
    {% endif %}
    {% set rows = run_query(
        'select country_name, country_slug from ' ~ ref('lastfm_countries') ~ ' order by country_slug'
    ) %}
    {% set columns = [] %}
    {% for row in rows %}
        {% do columns.append((row[0], 'country_' ~ row[1])) %}
    {% endfor %}
    {% do return(columns) %}
{% endmacro %}
