{#
    The lines of one kind of raw file: the original file (batch_date null) and that file in every
    batch folder, <raw_data_dir>/batches/<YYYY-MM-DD>/ (batch_date the folder's day). source_file
    is the file's name, or batches/<day>/<name> for a batch file: what mart_load_report counts by;
    source_fingerprint the file's fingerprint in raw_files. `files`: read only these source_files
    (an incremental build's new and rewritten files, files_to_load); none reads every file.
#}
{% macro raw_lines(original_table, batch_table, file_name, files=none) %}
    select /*+ broadcast(raw_files) */
        lines.line_read,
        lines.source_file,
        lines.batch_date,
        raw_files.fingerprint as source_fingerprint
    from (
        {%- if original_table and (files is none or file_name in files) %}
        select
            value as line_read,
            {{ string_literal(file_name) }} as source_file,
            cast(null as date) as batch_date
        from {{ source('lastfm', original_table) }}

        union all
        {% endif %}
        select
            value as line_read,
            regexp_extract(_metadata.file_path, '(batches/[^/]+/[^/]+)$', 1) as source_file,
            to_date(regexp_extract(_metadata.file_path, '/batches/([^/]+)/[^/]+$', 1)) as batch_date
        from {{ source('lastfm', batch_table) }}
        {%- if files is not none %}
        {# a filter of _metadata alone: Spark leaves the other files unread #}
        where regexp_extract(_metadata.file_path, '(batches/[^/]+/[^/]+)$', 1) in (
            {%- for name in files %}{{ string_literal(name) }}{{ ', ' if not loop.last }}{% endfor -%}
            {%- if not files %}null{% endif -%}
        )
        {%- endif %}
    ) as lines
    left join {{ source('lastfm', 'raw_files') }} as raw_files
        on lines.source_file = raw_files.source_file
{% endmacro %}

{#
    The config of a base model that keeps a kind of raw file's lines (`source_table`: plays or
    profiles, as in raw_files). On Delta an incremental table partitioned by source_file: a build
    parses only the files it has not loaded, or whose fingerprint changed since (files_to_load), and
    replaces their partitions in one commit (insert_overwrite, dynamic partitions); the post-hooks
    drop the lines of files no longer there, erase the lines of listeners forgotten since, set the
    session's partition overwrite back to Spark's default, and record the commit for
    write-audit-publish. `dbt build --full-refresh` parses every file again. On Parquet (the
    fallback) a table, parsed whole by every build.
    A change to a base model's parsing rules reaches lines already loaded only through a full
    refresh (`dbt build --full-refresh --select base_lastfm__plays_lines+`), as with any dbt
    incremental model; a change to its columns fails the build and says so (on_schema_change).
#}
{% macro lines_table_config(source_table) %}
    {%- if env_var('LAKEHOUSE_TABLE_FORMAT', 'delta') != 'delta' %}
        {{ return({'materialized': 'table'}) }}
    {%- endif %}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'insert_overwrite',
        'partition_by': ['source_file'],
        'on_schema_change': 'fail',
        'post_hook': [
            "{{ drop_lines_of_removed_files('" ~ source_table ~ "') }}",
            "{{ forget_listeners('user_sha1', erase_lines=true) }}",
            "set spark.sql.sources.partitionOverwriteMode = STATIC",
            "{{ lakehouse_record_incremental_commit() }}",
        ],
    }) }}
{% endmacro %}

{#
    The source_files of `source_table` (raw_files) an incremental build of this model parses: those
    it has not loaded, and those whose fingerprint differs from the one their lines were loaded with
    (a file rewritten or replaced). None (every file) when the build is not incremental.
#}
{% macro files_to_load(source_table) %}
    {#- a unit test has no `this`: it reads every line of its fixtures -#}
    {%- if not execute or this is none or not is_incremental() %}
        {{ return(none) }}
    {%- endif %}
    {%- set current = raw_file_fingerprints(source_table) %}
    {%- set loaded = loaded_file_fingerprints() %}
    {%- set files = [] %}
    {%- for name, fingerprint in current.items() if loaded.get(name) != fingerprint %}
        {%- do files.append(name) %}
    {%- endfor %}
    {{ log('incremental: ' ~ this ~ ' parses ' ~ files | length ~ ' of ' ~ current | length ~ ' '
           ~ source_table ~ ' files' ~ (': ' ~ files | join(', ') if files else ' (nothing new)'), info=true) }}
    {{ return(files) }}
{% endmacro %}

{% macro raw_file_fingerprints(source_table) %}
    {%- set found = {} %}
    {%- for row in run_query(
        "select source_file, fingerprint from " ~ source('lastfm', 'raw_files')
        ~ " where source_table = " ~ string_literal(source_table)
    ).rows %}
        {%- do found.update({row[0]: row[1]}) %}
    {%- endfor %}
    {{ return(found) }}
{% endmacro %}

{#- what this model's lines were loaded from: source_file -> fingerprint -#}
{% macro loaded_file_fingerprints() %}
    {%- if 'source_fingerprint' not in adapter.get_columns_in_relation(this) | map(attribute='name') | list %}
        {{ exceptions.raise_compiler_error(
            this ~ ' was built before raw files were loaded incrementally (it has no source_fingerprint):'
            ~ ' parse every file once more with `make build DBT_ARGS="--full-refresh --select'
            ~ ' base_lastfm__plays_lines+ base_lastfm__profile_lines+"`'
        ) }}
    {%- endif %}
    {%- set found = {} %}
    {%- for row in run_query(
        "select source_file, max(source_fingerprint) from " ~ this ~ " group by source_file"
    ).rows %}
        {%- do found.update({row[0]: row[1]}) %}
    {%- endfor %}
    {{ return(found) }}
{% endmacro %}

{#
    Post-hook (lines_table_config): the lines of files raw_files no longer lists (a batch folder
    taken away) go, as a full refresh would leave them out. A delete by partition: no data file is
    read.
#}
{% macro drop_lines_of_removed_files(source_table) %}
    {%- if not execute %}
        select 1
    {%- else %}
        {%- set current = raw_file_fingerprints(source_table) %}
        {%- set removed = loaded_file_fingerprints().keys() | reject('in', current) | list %}
        {%- if not removed %}
        select 1
        {%- else %}
        {{ log('incremental: ' ~ this ~ ' drops the lines of ' ~ removed | join(', ')
               ~ ' (no longer in the raw data directory)', info=true) }}
        delete from {{ this }} where source_file in (
            {%- for name in removed %}{{ string_literal(name) }}{{ ', ' if not loop.last }}{% endfor -%}
        )
        {%- endif %}
    {%- endif %}
{% endmacro %}

{#
    The user sha1s of every forget.tsv so far (stg_lastfm__forget_requests): the listeners no table
    may hold. A view over the raw files, never stored in the warehouse, so the list itself leaves
    no trace of them there.
#}
{% macro forgotten_users(in_hook=false) -%}
    {%- if in_hook -%}
        {#- A hook's ref() must be a declared dependency, which a YAML snapshot cannot declare: the
            relation comes from the graph instead. Every table forget_listeners runs on reads the
            forget requests through its own inputs, so they are built before it. -#}
        {%- set requests = graph.nodes.values()
            | selectattr('name', 'equalto', 'stg_lastfm__forget_requests') | first -%}
        select distinct user_sha1 from {{ requests.relation_name }}
    {%- else -%}
        select distinct user_sha1 from {{ ref('stg_lastfm__forget_requests') }}
    {%- endif -%}
{%- endmacro %}

{#
    Post-hook of a table that outlives a build (a key map, the profile snapshot): forget the
    listeners of forgotten_users() in it. Delta's MERGE rewrites the files that held them; the
    retention vacuum (`make vacuum`) then removes the old files. The condition is a join, never a
    list of sha1s, so Delta's log (which records each commit's condition) does not name them either.
    `keep_key`: a key map's key column. Its row is kept with the sha1 replaced by "erased:<key>", so
    that the key is never given to anyone else. `erase_lines`: a base model's lines (an incremental
    one keeps lines loaded by earlier builds); each is kept, to be counted, as the model writes a
    forgotten listener's line: without the line, the sha1, its cleanings or a rejection reason.
#}
{% macro forget_listeners(column, keep_key=none, erase_lines=false) %}
    {%- if config.get('file_format', 'delta') != 'delta' %}
        {%- if execute %}
        {{ log('lakehouse: ' ~ this ~ ' is not a Delta table: listeners in forget.tsv are removed from'
               ~ ' the tables each build rewrites, but not from this one (LAKEHOUSE_TABLE_FORMAT=parquet)',
               info=true) }}
        {%- endif %}
        select 1
    {%- else %}
    merge into {{ this }} as kept
    using ({{ forgotten_users(in_hook=true) }}) as forgotten
        on kept.{{ column }} = forgotten.user_sha1
    {%- if keep_key %}
    when matched then update set kept.{{ column }} = concat('erased:', cast(kept.{{ keep_key }} as string))
    {%- elif erase_lines %}
    {# a base model's line, as its own build writes a forgotten listener's line: counted, not kept #}
    when matched then update set
        kept.line = null,
        kept.{{ column }} = null,
        kept.cleanings = cast(array() as array<string>),
        kept.rejection_reason = null,
        kept.is_erased = true
    {%- else %}
    when matched then delete
    {%- endif %}
    {%- endif %}
{% endmacro %}
