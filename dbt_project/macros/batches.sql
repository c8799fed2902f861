{#
    The lines of one kind of raw file: the original file (batch_date null) and that file in every
    batch folder, <raw_data_dir>/batches/<YYYY-MM-DD>/ (batch_date the folder's day). source_file
    is the file's name, or batches/<day>/<name> for a batch file: what mart_load_report counts by.
#}
{% macro raw_lines(original_table, batch_table, file_name) %}
    {%- if original_table %}
    select
        value as line_read,
        {{ string_literal(file_name) }} as source_file,
        cast(null as date) as batch_date
    from {{ source('lastfm', original_table) }}

    union all

    {% endif -%}
    select
        value as line_read,
        regexp_extract(_metadata.file_path, '(batches/[^/]+/[^/]+)$', 1) as source_file,
        to_date(regexp_extract(_metadata.file_path, '/batches/([^/]+)/[^/]+$', 1)) as batch_date
    from {{ source('lastfm', batch_table) }}
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
    that the key is never given to anyone else.
#}
{% macro forget_listeners(column, keep_key=none) %}
    {%- if config.get('file_format', 'delta') != 'delta' %}
        {%- if execute %}
        {{ log('lakehouse: ' ~ this ~ ' is not a Delta table: listeners in forget.tsv are removed from'
               ~ ' the tables each build rewrites, but not from this one (LASTFM_TABLE_FORMAT=parquet)',
               info=true) }}
        {%- endif %}
        select 1
    {%- else %}
    merge into {{ this }} as kept
    using ({{ forgotten_users(in_hook=true) }}) as forgotten
        on kept.{{ column }} = forgotten.user_sha1
    {%- if keep_key %}
    when matched then update set kept.{{ column }} = concat('erased:', cast(kept.{{ keep_key }} as string))
    {%- else %}
    when matched then delete
    {%- endif %}
    {%- endif %}
{% endmacro %}
