{#
    Tables (SQL and Python models) published atomically on Parquet + the Hive metastore (seeds the
    same way: seed_materialization.sql).

    dbt-spark drops the table and writes it again: for as long as the write takes, a reader sees no
    table or deleted files. Here each build writes the new data into a directory of its own (a
    staging table `<name>__dbt_next` over `<schema location>/<name>__versions/v<UTC timestamp>`,
    see dbt.adapters.lakehouse.versions), then switches the table to it in one metastore operation
    (`alter table ... set location`); a query planned before the switch reads the previous version,
    marked retired at the switch and kept until var('table_version_grace_seconds') after it. A table whose
    columns change, or a view turning into a table, is dropped and created over the new version
    instead (the one case with a gap). Delta and Iceberg keep dbt-spark's own create or replace,
    which is atomic already.
#}
{% materialization table, adapter = 'lakehouse', supported_languages=['sql', 'python'] %}
  {%- set language = model['language'] -%}
  {%- set identifier = model['alias'] -%}
  {%- set grant_config = config.get('grants') -%}
  {%- set file_format = config.get('file_format', adapter.default_table_format()) -%}
  {%- set old_relation = adapter.get_relation(database=database, schema=schema, identifier=identifier) -%}
  {%- set target_relation = api.Relation.create(
      identifier=identifier, schema=schema, database=database, type='table') -%}

  {{ run_hooks(pre_hooks) }}

  {% if file_format in ['delta', 'iceberg'] %}
    {#- dbt-spark's way: create or replace, atomic in these formats -#}
    {% if old_relation is not none and not (old_relation.is_delta or old_relation.is_iceberg) %}
      {{ adapter.drop_relation(old_relation) }}
    {% endif %}
    {%- call statement('main', language=language) -%}
      {{ create_table_as(False, target_relation, compiled_code, language) }}
    {%- endcall -%}
  {% else %}
    {%- set next = lakehouse__next_version(target_relation) -%}
    {%- set location, staging_relation = next.location, next.staging_relation -%}

    {#- 1. write the new version into its own directory -#}
    {%- call statement('main', language=language) -%}
      {%- if language == 'python' -%}
        {{ py_write_table(compiled_code, staging_relation, location) }}
      {%- else -%}
        create table {{ staging_relation }}
        using {{ file_format }}
        location '{{ location }}'
        as
        {{ compiled_code }}
      {%- endif -%}
    {%- endcall -%}

    {#- 2. publish it: one metastore operation; 3. old versions no reader can still be using -#}
    {% do lakehouse__publish_version(target_relation, old_relation, next, file_format) %}
  {% endif %}

  {% set should_revoke = should_revoke(old_relation, full_refresh_mode=True) %}
  {% do apply_grants(target_relation, grant_config, should_revoke) %}
  {% do persist_docs(target_relation, model) %}
  {% do persist_constraints(target_relation, model) %}

  {{ run_hooks(post_hooks) }}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#
    Atomic publish, shared by tables and seeds. lakehouse__next_version: a fresh version directory
    for the table and the staging table `<name>__dbt_next` that is to be written over it (a staging
    table left by a killed build is dropped first: external, so its files stay for retire to judge).
#}
{% macro lakehouse__next_version(target_relation) %}
    {%- set schema_location = adapter.schema_location(target_relation.schema) -%}
    {%- set staging_relation = api.Relation.create(
        identifier=target_relation.identifier ~ '__dbt_next', schema=target_relation.schema,
        database=target_relation.database, type='table') -%}
    {% call statement('drop_stale_staging') %}drop table if exists {{ staging_relation }}{% endcall %}
    {{ return({
        'schema_location': schema_location,
        'location': adapter.new_table_version(schema_location, target_relation.identifier),
        'staging_relation': staging_relation,
    }) }}
{% endmacro %}


{#
    lakehouse__publish_version: once the staging table holds the new version, switch the table to it
    (one metastore operation when the columns are unchanged, else drop and create over it), drop the
    staging table and retire the versions no reader can still be using.
#}
{% macro lakehouse__publish_version(target_relation, old_relation, next, file_format) %}
    {%- set location, staging_relation = next.location, next.staging_relation -%}
    {%- set previous_location = adapter.table_location(old_relation)
          if old_relation is not none and old_relation.is_table else none -%}
    {% if old_relation is not none and old_relation.is_table
          and adapter.same_columns(old_relation, staging_relation) %}
      {% call statement('publish') %}
        alter table {{ target_relation }} set location '{{ location }}'
      {% endcall %}
      {% do adapter.mark_version_retired(previous_location) %}
    {% else %}
      {% if old_relation is not none %}
        {{ adapter.drop_relation(old_relation) }}
        {% do adapter.mark_version_retired(previous_location) %}
      {% endif %}
      {% call statement('publish') %}
        create table {{ target_relation }} like {{ staging_relation }}
        using {{ file_format }}
        location '{{ location }}'
      {% endcall %}
    {% endif %}
    {% call statement('drop_staging') %}drop table if exists {{ staging_relation }}{% endcall %}
    {% set retired = adapter.retire_table_versions(
        next.schema_location, target_relation.identifier, location,
        var('table_version_grace_seconds', 300)) %}
    {{ log(target_relation ~ ' published at ' ~ location ~ '; ' ~ retired) }}
{% endmacro %}
