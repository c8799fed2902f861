{#
    Delta Lake: what every commit a build makes records, write-audit-publish, and retention.

    Every table or seed a build writes on Delta is one commit (create or replace / replace), and
    that commit carries the build's identity as table properties, so `describe history` says which
    dbt invocation, node, project commit and command-line vars wrote each version, and which version
    was current before it (what a failed build goes back to):
      lakehouse.dbt.invocation_id, lakehouse.dbt.node, lakehouse.project.commit, lakehouse.dbt.vars,
      lakehouse.previous_version (absent for a new table).
    Table properties rather than Delta's commitInfo.userMetadata: that one is a session setting, and
    dbt's threads share the embedded session, so two models written at once would swap labels.
#}
{% macro lakehouse__commit_properties(relation) %}
  {%- set given = invocation_args_dict.get('vars') or {} -%}
  {%- set retention = 'interval ' ~ lakehouse__retention_days() ~ ' days' -%}
  {%- set properties = {
      'lakehouse.dbt.invocation_id': invocation_id,
      'lakehouse.dbt.node': model.unique_id,
      'lakehouse.project.commit': adapter.project_commit(),
      'lakehouse.dbt.vars': given if given is string else tojson(given, sort_keys=true),
      'delta.logRetentionDuration': retention,
      'delta.deletedFileRetentionDuration': retention,
  } -%}
  {%- set existing = adapter.get_relation(database=relation.database, schema=relation.schema,
                                          identifier=relation.identifier) -%}
  {%- set previous = adapter.delta_version(existing) -%}
  {%- if previous is not none -%}
    {%- do properties.update({'lakehouse.previous_version': previous | string}) -%}
  {%- endif -%}
  {%- do properties.update(config.get('tblproperties') or {}) -%}
  {{ return(properties) }}
{% endmacro %}


{% macro lakehouse__retention_days() %}
  {%- set days = var('delta_retention_days', 7) | int -%}
  {%- if days < 1 -%}
    {{ exceptions.raise_compiler_error(
        "var delta_retention_days must be a whole number of days >= 1 (it must outlast the longest "
        ~ "query and the server's refresh), got " ~ var('delta_retention_days')) }}
  {%- endif -%}
  {{ return(days) }}
{% endmacro %}


{% macro lakehouse__properties_sql(properties) -%}
  tblproperties (
    {%- for key, value in properties.items() %}
    '{{ key }}' = '{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}'
    {%- if not loop.last %},{% endif -%}
    {%- endfor %}
  )
{%- endmacro %}


{#- dbt-spark's create_table_as renders this clause: on Delta, the commit's properties too -#}
{% macro lakehouse__tblproperties_clause() -%}
  {%- if config.get('file_format', adapter.default_table_format()) == 'delta' and this is defined -%}
    {{ lakehouse__properties_sql(lakehouse__commit_properties(this)) }}
  {%- else -%}
    {{ spark__tblproperties_clause() }}
  {%- endif -%}
{%- endmacro %}


{#
    Post-hook of an incremental model on Delta. dbt-spark's incremental materialization adds to a
    table (insert, merge) without the commit properties that create_table_as gives a replaced one,
    so write-audit-publish would take the table for an earlier build's and leave a failed version
    live. This records them, with the version the table had when this invocation started (what a
    failed test restores): one more commit, after the invocation's own. A full refresh or a first
    build replaced the table with its properties already, and is left as it is.
#}
{% macro lakehouse_record_incremental_commit() %}
  {%- if config.get('file_format', adapter.default_table_format()) != 'delta' or not is_incremental()
        or adapter.table_properties(this).get('lakehouse.dbt.invocation_id') == invocation_id -%}
    select 1
  {%- else -%}
    {%- set properties = lakehouse__commit_properties(this) -%}
    {%- set before = adapter.delta_version_before(this, run_started_at.isoformat()) -%}
    {%- if before is none -%}
      {%- do properties.pop('lakehouse.previous_version', none) -%}
    {%- else -%}
      {%- do properties.update({'lakehouse.previous_version': before | string}) -%}
    {%- endif %}
    alter table {{ this }} set {{ lakehouse__properties_sql(properties) }}
  {%- endif -%}
{% endmacro %}


{#
    Write, audit, publish: run at the end of every dbt invocation (on-run-end). A table or seed this
    invocation wrote whose data tests then failed (or errored) goes back to the version it had
    before (`restore table ... to version as of`), or is dropped when it had none, so BI never
    keeps serving a version that failed its tests. The build stays red; the log says what was held
    back. Tables written by an earlier invocation are left alone (their tests passed then).
#}
{% macro lakehouse_hold_back_failed_tables(results) %}
  {%- if not execute or results is none -%}{{ return('') }}{%- endif -%}
  {%- set failed_tests = {} -%}
  {%- for result in results -%}
    {%- if result.node.resource_type == 'test' and (result.status | string) in ('fail', 'error') -%}
      {%- for parent_id in result.node.depends_on.nodes -%}
        {%- set parent = graph.nodes.get(parent_id) -%}
        {%- if parent is not none and parent.resource_type in ('model', 'seed')
              and parent.config.materialized in ('table', 'seed', 'incremental') -%}
          {%- do failed_tests.setdefault(parent_id, []).append(result.node.name) -%}
        {%- endif -%}
      {%- endfor -%}
    {%- endif -%}
  {%- endfor -%}
  {%- for parent_id, tests in failed_tests.items() -%}
    {%- set parent = graph.nodes[parent_id] -%}
    {%- set relation = adapter.get_relation(database=parent.database, schema=parent.schema,
                                            identifier=parent.alias) -%}
    {%- if relation is none or adapter.delta_version(relation) is none -%}
      {%- do log("held back: nothing to do for " ~ parent_id ~ " (not a Delta table here)", info=true) -%}
    {%- else -%}
      {%- set properties = adapter.table_properties(relation) -%}
      {%- set why = tests | length ~ " data test(s) failed: " ~ (tests | join(', ')) -%}
      {%- if properties.get('lakehouse.dbt.invocation_id') != invocation_id -%}
        {%- do log("held back: " ~ relation ~ " left as it was (" ~ why ~ "; this build did not write it)", info=true) -%}
      {%- elif properties.get('lakehouse.previous_version') is not none -%}
        {%- set version = properties['lakehouse.previous_version'] | int -%}
        {%- call statement('hold_back') -%}
          restore table {{ relation }} to version as of {{ version }}
        {%- endcall -%}
        {%- do log("held back: " ~ relation ~ " RESTORED to version " ~ version ~ " (" ~ why ~ ")", info=true) -%}
      {%- else -%}
        {%- do adapter.drop_relation(relation) -%}
        {%- do log("held back: " ~ relation ~ " DROPPED, it had no earlier version (" ~ why ~ ")", info=true) -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return('') }}
{% endmacro %}


{#
    Retention: `dbt run-operation vacuum_lakehouse` (make vacuum) removes, from every Delta table
    the project writes, the files no version younger than var('delta_retention_days') needs; the
    Delta log drops history older than that at its next checkpoint (delta.logRetentionDuration,
    set on every commit). Time travel reaches back as far as the retention.

    `retain_hours` overrides the retention for this run: `--args '{retain_hours: 0}'` removes
    every file the current versions do not need, now (the files of erased listeners, at once),
    and ends time travel and every running reader's snapshot. Snapshots (the profile history) are
    vacuumed as the tables are.
#}
{% macro vacuum_lakehouse(retain_hours=none) %}
  {%- set hours = lakehouse__retention_days() * 24 if retain_hours is none else retain_hours | int -%}
  {%- if hours < 0 -%}
    {{ exceptions.raise_compiler_error("vacuum_lakehouse: retain_hours must be >= 0, got " ~ retain_hours) }}
  {%- endif -%}
  {#- the retention is this var's to set (at least a day): Delta's own check wants 7 days -#}
  {%- call statement('allow_retention') -%}
    set spark.databricks.delta.retentionDurationCheck.enabled = false
  {%- endcall -%}
  {%- set vacuumed = [] -%}
  {%- for node in graph.nodes.values() if node.resource_type in ('model', 'seed', 'snapshot')
        and node.config.materialized in ('table', 'seed', 'incremental', 'snapshot') -%}
    {%- set relation = adapter.get_relation(database=node.database, schema=node.schema,
                                            identifier=node.alias) -%}
    {%- if relation is not none and adapter.delta_version(relation) is not none -%}
      {%- call statement('vacuum', fetch_result=true) -%}
        vacuum {{ relation }} retain {{ hours }} hours
      {%- endcall -%}
      {%- do vacuumed.append(relation | string) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- do log("vacuumed " ~ vacuumed | length ~ " Delta table(s), keeping " ~ hours ~ " hours of history: "
             ~ (vacuumed | join(', ')), info=true) -%}
{% endmacro %}
