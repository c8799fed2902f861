{#
    Expose the two raw files as Spark text tables, one row per line (column `value`), in
    var('raw_schema'), the batch files under <raw_data_dir>/batches/<YYYY-MM-DD>/ as three more
    (raw_batch_plays, raw_batch_profiles, raw_batch_forget), and a small table raw_files with what
    the text reader cannot tell (a byte-order mark at the start of a file, which it skips). The files are
    var('raw_data_dir') / var('plays_file') and var('profiles_file') - or, when that directory
    lacks them, var('raw_data_fallback_dir') (the generated dataset); `make build` resolves the
    directory and passes it as a var. The tables are external: dropping them never touches the
    files. Runs on-run-start, or `dbt run-operation create_raw_sources`.

    A table already over the same file (and raw_files already saying the same) is left as it is: two
    builds at once on one metastore would otherwise drop and create the same tables under each
    other (one failed with "Table raw_plays already exists"), and a build reading them would lose
    them mid-query.
#}
{% macro create_raw_sources() %}
    {% if execute %}
        {% set schema = var('raw_schema') %}
        {% set files = {
            'raw_plays': var('plays_file'),
            'raw_profiles': var('profiles_file'),
        } %}
        {% set raw_dir = adapter.absolute_path(var('raw_data_dir')) %}
        {% set fallback_dir = adapter.absolute_path(var('raw_data_fallback_dir')) %}
        {% if not (adapter.is_file(raw_dir ~ '/' ~ var('plays_file'))
                   and adapter.is_file(raw_dir ~ '/' ~ var('profiles_file')))
              and adapter.is_file(fallback_dir ~ '/' ~ var('plays_file'))
              and adapter.is_file(fallback_dir ~ '/' ~ var('profiles_file')) %}
            {{ log('raw data: ' ~ raw_dir ~ ' lacks the two files; reading ' ~ fallback_dir
                   ~ ' (var raw_data_fallback_dir) instead', info=true) }}
            {% set raw_dir = fallback_dir %}
        {% endif %}
        {% for file_name in files.values() if not adapter.is_file(raw_dir ~ '/' ~ file_name) %}
            {% do exceptions.raise_compiler_error(
                'raw file ' ~ raw_dir ~ '/' ~ file_name ~ ' not found (var raw_data_dir = '
                ~ var('raw_data_dir') ~ "). Run `make build`, which finds the real files or generates"
                ~ " a dataset, or pass --vars '{raw_data_dir: /dir/with/both/files}'"
            ) %}
        {% endfor %}
        {% do run_query('create schema if not exists ' ~ schema) %}
        {% set file_rows = [] %}
        {% for table, file_name in files.items() %}
            {% do file_rows.append(
                "('" ~ table[4:] ~ "', '" ~ file_name ~ "', "
                ~ (adapter.starts_with_bom(raw_dir ~ '/' ~ file_name) | string | lower) ~ ", '"
                ~ adapter.file_fingerprint(raw_dir ~ '/' ~ file_name) ~ "')"
            ) %}
            {% set path = (raw_dir ~ '/' ~ file_name) | replace("'", "\\'") %}
            {% set existing = adapter.get_relation(database=none, schema=schema, identifier=table) %}
            {% if existing is none or not adapter.same_location(adapter.table_location(existing), raw_dir ~ '/' ~ file_name) %}
                {% do run_query('drop table if exists ' ~ schema ~ '.' ~ table) %}
                {% do run_query(
                    'create table if not exists ' ~ schema ~ '.' ~ table ~ ' (value string) using text'
                    ~ " location '" ~ path ~ "'"
                    ~ " comment 'Lines of " ~ file_name ~ " (one row per line, tab-separated fields)'"
                ) %}
            {% else %}
                {#- the same path: a session that listed its files before must list them again -#}
                {% do run_query('refresh table ' ~ schema ~ '.' ~ table) %}
            {% endif %}
        {% endfor %}
        {#- New data: one text table per kind of batch file over <raw_dir>/batches, reading that file
            name in every batch folder (the folder, hence the batch's day, from _metadata.file_path).
            No folder yet reads as no lines. -#}
        {% set batch_files = adapter.batch_files(raw_dir) %}
        {% set batches_path = (raw_dir ~ '/batches') | replace("'", "\\'") %}
        {% for table, file_name in {
            'raw_batch_plays': var('plays_file'),
            'raw_batch_profiles': var('profiles_file'),
            'raw_batch_forget': var('forget_file'),
        }.items() %}
            {% set existing = adapter.get_relation(database=none, schema=schema, identifier=table) %}
            {% if existing is none or not adapter.same_location(adapter.table_location(existing), raw_dir ~ '/batches') %}
                {% do run_query('drop table if exists ' ~ schema ~ '.' ~ table) %}
                {% do run_query(
                    'create table if not exists ' ~ schema ~ '.' ~ table ~ ' (value string) using text'
                    ~ " options (recursiveFileLookup 'true', pathGlobFilter '" ~ file_name ~ "')"
                    ~ " location '" ~ batches_path ~ "'"
                    ~ " comment 'Lines of batches/<YYYY-MM-DD>/" ~ file_name ~ " (one row per line)'"
                ) %}
            {% else %}
                {% do run_query('refresh table ' ~ schema ~ '.' ~ table) %}
            {% endif %}
        {% endfor %}
        {% for found in batch_files %}
            {% do file_rows.append(
                "('" ~ found['source_table'] ~ "', '" ~ found['source_file'] ~ "', "
                ~ (found['starts_with_bom'] | string | lower) ~ ", '" ~ found['fingerprint'] ~ "')"
            ) %}
        {% endfor %}
        {#- what the text reader cannot tell: a byte-order mark it skips at the start of a file;
            and each file's fingerprint (size, modification time), which incremental builds compare
            with the one its lines were loaded with -#}
        {% set rows = file_rows | join(', ') %}
        {% set existing = adapter.get_relation(database=none, schema=schema, identifier='raw_files') %}
        {% if existing is none or adapter.table_properties(existing).get('lakehouse.rows') != rows %}
            {% do run_query('drop table if exists ' ~ schema ~ '.raw_files') %}
            {% do run_query(
                'create table if not exists ' ~ schema ~ '.raw_files using parquet'
                ~ " tblproperties ('lakehouse.rows' = '" ~ rows | replace("\\", "\\\\") | replace("'", "\\'") ~ "')"
                ~ ' as select * from values ' ~ rows ~ ' as raw_files(source_table, source_file, starts_with_bom, fingerprint)'
            ) %}
        {% endif %}
        {{ log('raw sources: ' ~ schema ~ '.raw_plays, ' ~ schema ~ '.raw_profiles over ' ~ raw_dir, info=true) }}
        {%- if batch_files %}
        {{ log('raw batches: ' ~ batch_files | map(attribute='batch') | unique | list | length ~ ' ('
               ~ (batch_files | first)['batch'] ~ ' to ' ~ (batch_files | last)['batch'] ~ ', '
               ~ batch_files | length ~ ' files) under ' ~ raw_dir ~ '/batches', info=true) }}
        {%- endif %}
    {% endif %}
{% endmacro %}
