{#-
    A Spark SQL string literal for `value`: single-quoted, or double-quoted when the value holds a
    single quote (Spark reads both; sqlfluff's CV10 prefers no escapes), backslashes escaped.
-#}
{% macro string_literal(value) -%}
    {%- set text = value | string | replace("\\", "\\\\") -%}
    {%- if "'" in text -%}
        "{{ text | replace('"', '\\"') }}"
    {%- else -%}
        '{{ text }}'
    {%- endif -%}
{%- endmacro %}
