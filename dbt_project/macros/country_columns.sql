{#
    The one-hot country columns of dim_users, read from the lastfm_countries seed table:
    a list of (country_name, column_name) pairs, column_name = 'country_' ~ country_slug.
    Empty while dbt parses (nothing is queried then).
#}
{% macro country_columns() %}
    {% if not execute %}
        {% do return([]) %}
    {% endif %}
    {#-
        The seed table itself, not ref(): inside a unit test ref() names the fixture CTE, and the
        graph is empty there, so the schema then comes from the project's schema naming.
    -#}
    {% set seeds = (graph.get('nodes') or {}).values() | selectattr('resource_type', 'equalto', 'seed')
        | selectattr('name', 'equalto', 'lastfm_countries') | list %}
    {% if seeds %}
        {% set relation = api.Relation.create(schema=seeds[0].schema, identifier=seeds[0].alias) %}
    {% else %}
        {% set relation = api.Relation.create(
            schema=generate_schema_name('seeds', none), identifier='lastfm_countries'
        ) %}
    {% endif %}
    {% if adapter.get_relation(database=none, schema=relation.schema, identifier=relation.identifier) is none %}
        {% if var('country_columns_optional', false) %}
            {#- sqlfluff lints against an empty lakehouse: render without one-hot columns. -#}
            {% do return([]) %}
        {% endif %}
        {{ exceptions.raise_compiler_error(
            'The lastfm_countries seed is not loaded (' ~ relation ~ ' does not exist): run '
            ~ '`dbt seed` or `dbt build`, which loads it before dim_users.'
        ) }}
    {% endif %}
    {% set rows = run_query(
        'select country_name, country_slug from ' ~ relation ~ ' order by country_slug'
    ) %}
    {% set columns = [] %}
    {% for row in rows %}
        {% do columns.append((row[0], 'country_' ~ row[1])) %}
    {% endfor %}
    {% do return(columns) %}
{% endmacro %}
