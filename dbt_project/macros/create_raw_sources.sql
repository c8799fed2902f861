{#
    Expose the two raw files as Spark text tables, one row per line (column `value`), in
    var('raw_schema'), and a small table raw_files with what the text reader cannot tell (a
    byte-order mark at the start of a file, which it skips). The files are found by the lakehouse
    adapter (adapter.raw_data_dir()):
    $LASTFM_RAW_DIR, else data/raw/ when it holds both files, else data/generated/.
    The tables are external: dropping them never touches the files. Runs on-run-start, or
    `dbt run-operation create_raw_sources`.
#}
{% macro create_raw_sources() %}
    {% if execute %}
        {% set raw_dir = adapter.raw_data_dir() %}
        {% set schema = var('raw_schema') %}
        {% set files = {
            'raw_plays': 'usersha1-artmbid-artname-plays.tsv',
            'raw_profiles': 'usersha1-profile.tsv',
        } %}
        {% do run_query('create schema if not exists ' ~ schema) %}
        {% set file_rows = [] %}
        {% for table, file_name in files.items() %}
            {% do file_rows.append(
                "('" ~ table[4:] ~ "', '" ~ file_name ~ "', "
                ~ (adapter.starts_with_bom(raw_dir ~ '/' ~ file_name) | string | lower) ~ ")"
            ) %}
            {% set path = (raw_dir ~ '/' ~ file_name) | replace("'", "\\'") %}
            {% do run_query('drop table if exists ' ~ schema ~ '.' ~ table) %}
            {% do run_query(
                'create table ' ~ schema ~ '.' ~ table ~ ' (value string) using text'
                ~ " location '" ~ path ~ "'"
                ~ " comment 'Lines of " ~ file_name ~ " (one row per line, tab-separated fields)'"
            ) %}
        {% endfor %}
        {#- what the text reader cannot tell: a byte-order mark it skips at the start of a file -#}
        {% do run_query('drop table if exists ' ~ schema ~ '.raw_files') %}
        {% do run_query(
            'create table ' ~ schema ~ '.raw_files using parquet as select * from values '
            ~ file_rows | join(', ') ~ ' as raw_files(source_table, source_file, starts_with_bom)'
        ) %}
        {{ log('raw sources: ' ~ schema ~ '.raw_plays, ' ~ schema ~ '.raw_profiles over ' ~ raw_dir, info=true) }}
    {% endif %}
{% endmacro %}
