{#
    Seeds published atomically, like tables (table_materialization.sql). dbt's seed drops the table,
    creates it empty and inserts the CSV's rows: a model or BI query reading the seed meanwhile
    fails or sees it empty. Here the rows are inserted into the staging table `<name>__dbt_next`
    over a new version directory and the seed is switched to it in one metastore operation; the
    previous version is retired as a table's is. With Delta or Iceberg the rows go into a scratch
    staging table and the seed is replaced from it by `create or replace table`, atomic in those
    formats.
#}
{% materialization seed, adapter = 'lakehouse' %}
  {%- set identifier = model['alias'] -%}
  {%- set grant_config = config.get('grants') -%}
  {%- set file_format = config.get('file_format', adapter.default_table_format()) -%}
  {%- set old_relation = adapter.get_relation(database=database, schema=schema, identifier=identifier) -%}
  {%- if old_relation is not none and old_relation.is_view -%}
    {{ exceptions.raise_compiler_error("Cannot seed to '{}', it is a view".format(old_relation.render())) }}
  {%- endif -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set agate_table = load_agate_table() -%}
  {%- do store_result('agate_table', response='OK', agate_table=agate_table) -%}
  {%- set is_transactional = file_format in ['delta', 'iceberg'] -%}

  {{ run_hooks(pre_hooks) }}

  {#- 1. the rows into a staging table: over the new version's directory, or scratch (Delta) -#}
  {%- set next = lakehouse__next_version(target_relation) -%}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}
  {% set create_sql %}
    create table {{ next.staging_relation }} (
        {%- for col_name in agate_table.column_names -%}
            {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
            {{ adapter.quote_seed_column(col_name | string, quote_seed_column) }} {{ type }}
            {%- if not loop.last %}, {% endif -%}
        {%- endfor -%}
    )
    {% if is_transactional -%}
      using parquet
    {%- else -%}
      using {{ file_format }} location '{{ next.location }}'
    {%- endif %}
  {% endset %}
  {% call statement('create_staging') %}{{ create_sql }}{% endcall %}
  {% set insert_sql = lakehouse__insert_csv_rows(next.staging_relation, model, agate_table)
       if agate_table.rows | length > 0 else '' %}

  {#- 2. publish -#}
  {% if is_transactional %}
    {% if old_relation is not none and not (old_relation.is_delta or old_relation.is_iceberg) %}
      {{ adapter.drop_relation(old_relation) }}
    {% endif %}
    {% call statement('publish') %}
      create or replace table {{ target_relation }} using {{ file_format }}
      {% if file_format == 'delta' %}{{ lakehouse__properties_sql(lakehouse__commit_properties(target_relation)) }}{% endif %}
      as select * from {{ next.staging_relation }}
    {% endcall %}
    {% call statement('drop_staging') %}drop table if exists {{ next.staging_relation }}{% endcall %}
  {% else %}
    {% do lakehouse__publish_version(target_relation, old_relation, next, file_format) %}
  {% endif %}

  {% set rows_affected = agate_table.rows | length %}
  {% call noop_statement('main', 'INSERT ' ~ rows_affected, 'INSERT', rows_affected) %}
    {{ create_sql }};
    {{ insert_sql }}
  {% endcall %}

  {% set should_revoke = should_revoke(old_relation, full_refresh_mode=True) %}
  {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}
  {% do persist_docs(target_relation, model) %}

  {{ run_hooks(post_hooks) }}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
