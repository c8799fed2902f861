{# Small SQL expressions shared by the staging models. #}

{% macro is_sha1(column) -%}
    coalesce({{ column }} rlike '^[0-9a-f]{40}$', false)
{%- endmacro %}

{#- A field of a split line, or null when the line has fewer fields. -#}
{% macro field(fields, position) -%}
    trim(try_element_at({{ fields }}, {{ position }}))
{%- endmacro %}

{#- The characters a line loses before it is split: byte-order marks (U+FEFF, at the start of a
    file, or of a line where files were concatenated) and control characters other than tab. -#}
{% macro stray_characters_pattern() -%}
    '[\\x{feff}\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]'
{%- endmacro %}

{#- Whether a line needs either repair `clean_line` makes, as the two columns it is given. Found once
    per line, so that the repairs run only on the few lines that need them. -#}
{% macro line_checks(column) -%}
    not is_valid_utf8({{ column }}) as has_invalid_utf8,
    {{ column }} rlike {{ stray_characters_pattern() }} as has_stray_characters
{%- endmacro %}

{#- The line as text: invalid UTF-8 bytes become U+FFFD (Spark's text source passes them through,
    and they would break every Parquet/Arrow reader downstream), stray characters are removed.
    `has_invalid_utf8` and `has_stray_characters` are the columns that say whether the line needs
    either repair: most lines need neither and are passed as they are. -#}
{% macro clean_line(column, has_invalid_utf8, has_stray_characters) -%}
    case
        when {{ has_stray_characters }}
            then regexp_replace(make_valid_utf8({{ column }}), {{ stray_characters_pattern() }}, '')
        when {{ has_invalid_utf8 }}
            then make_valid_utf8({{ column }})
        else {{ column }}
    end
{%- endmacro %}

{#- The fields of a cleaned line. A dataframe tool that re-saved the file with its row index adds a
    leading integer column (lines of `expected + 1` fields whose first is an integer): that column
    is dropped, and counted as a cleaning. The rest of the line is then judged as any other. -#}
{% macro split_record(line, expected) -%}
    case
        when size(split({{ line }}, '\t', -1)) = {{ expected + 1 }}
            and trim(split({{ line }}, '\t', -1)[0]) rlike '^[0-9]+$'
            then slice(split({{ line }}, '\t', -1), 2, {{ expected }})
        else split({{ line }}, '\t', -1)
    end
{%- endmacro %}

{#- What makes two lines duplicates: their fields after split_record, joined by tabs. That is the
    cleaned line itself unless split_record dropped an index column (splitting a string on tabs and
    joining the parts with tabs gives it back), so only lines that lost one are joined again: the
    plays model ran 10 % faster at full size than when it joined all 17.5M split lines (noop
    writes, alternating: 122.6 and 127.4 s against 110.4 and 113.1 s). -#}
{% macro record(line, fields, field_count_read) -%}
    case
        when {{ field_count_read }} != size({{ fields }}) then concat_ws('\t', {{ fields }})
        else {{ line }}
    end
{%- endmacro %}

{#- A header line (the original files have none; re-saved copies often do): a field is a user
    column name and the line holds no sha1. -#}
{% macro is_header(line) -%}
    (
        lower({{ line }}) rlike '(^|\t) *(user|user_?sha1|usersha1|user-sha1|user_id|userid) *(\t|$)'
        and not lower({{ line }}) rlike '[0-9a-f]{40}'
    )
{%- endmacro %}

{#- A whole number written as an integer (`22`) or as a float a dataframe tool wrote (`22.0`,
    `1.099e3`); null when the text is not a number, not whole, or beyond 2^53 in float form (a float
    is exact only up to there). Integers out of the bigint range are null too. -#}
{% macro whole_number(column) -%}
    case
        when {{ column }} rlike '^[+-]?[0-9]+$'
            then try_cast({{ column }} as bigint)
        when {{ column }} rlike '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$'
            and try_cast({{ column }} as double) = floor(try_cast({{ column }} as double))
            and abs(try_cast({{ column }} as double)) < 9007199254740992
            then cast(try_cast({{ column }} as double) as bigint)
    end
{%- endmacro %}

{#- A number (any form) that is not representable: too many digits for a bigint, or a float form
    beyond 2^53. -#}
{% macro is_number_out_of_range(column) -%}
    coalesce(
        ({{ column }} rlike '^[+-]?[0-9]+$' and try_cast({{ column }} as bigint) is null)
        or ({{ column }} rlike '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$'
            and abs(try_cast({{ column }} as double)) >= 9007199254740992),
        false
    )
{%- endmacro %}

{#- A text field a dataframe tool wrote with CSV quoting (pandas' default QUOTE_MINIMAL quotes a
    field that holds a double quote and doubles the quotes inside: `brian "head" welch` becomes
    `"brian ""head"" welch"`). Only a field wrapped in quotes whose inner quotes all come in pairs,
    with at least one pair, is taken as quoted: the original file never writes one like that. -#}
{% macro is_csv_quoted(column) -%}
    coalesce(startswith({{ column }}, '"') and {{ column }} rlike '^"([^"]|"")*""([^"]|"")*"$', false)
{%- endmacro %}

{% macro csv_unquoted(column) -%}
    case
        when {{ is_csv_quoted(column) }}
            then replace(substr({{ column }}, 2, length({{ column }}) - 2), '""', '"')
        else {{ column }}
    end
{%- endmacro %}

{#- An MBID as MusicBrainz writes it: a lower-case hyphenated UUID. -#}
{% macro canonical_mbid_pattern() -%}
    '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
{%- endmacro %}

{#- MBIDs are written several ways: lower the case, drop braces, restore missing hyphens. Most are
    written canonically: one match finds those, and only the others are rewritten (lower-casing
    and replacing on every row took 11 s more at full size, measured). -#}
{% macro normalize_mbid(column) -%}
    case
        when {{ column }} rlike {{ canonical_mbid_pattern() }}
            then {{ column }}
        when regexp_replace(lower({{ column }}), '[{}]', '')
            rlike {{ canonical_mbid_pattern() }}
            then regexp_replace(lower({{ column }}), '[{}]', '')
        when lower({{ column }}) rlike '^[0-9a-f]{32}$'
            then concat_ws(
                '-',
                substr(lower({{ column }}), 1, 8),
                substr(lower({{ column }}), 9, 4),
                substr(lower({{ column }}), 13, 4),
                substr(lower({{ column }}), 17, 4),
                substr(lower({{ column }}), 21, 12)
            )
    end
{%- endmacro %}

{#- Key for artists without a valid MBID: lower case, single spaces. -#}
{% macro normalize_artist_name(column) -%}
    lower(regexp_replace(trim({{ column }}), '\\s+', ' '))
{%- endmacro %}

{#- The non-null strings of a list of `case when ... then '<label>' end` expressions, as an array:
    the cleanings applied to a line. array_except drops the nulls (and repeats: the labels are
    distinct) in compiled code; `filter` with a lambda is interpreted row by row (23 s more on the
    17.5M-line plays file). -#}
{% macro labels(expressions) -%}
    array_except(
        array(
            {%- for expression in expressions %}
            {{ expression }}{{ "," if not loop.last }}
            {%- endfor %}
        ),
        array(cast(null as string))
    )
{%- endmacro %}

{#- The repairs of a line itself, whatever then happens to it (the CTE before must hold
    has_invalid_utf8, has_stray_characters, field_count_read and field_count). -#}
{% macro line_cleanings() -%}
    {{ labels([
        "case when has_invalid_utf8 then 'invalid UTF-8 bytes replaced by U+FFFD' end",
        "case when has_stray_characters then 'byte-order mark or control characters removed' end",
        "case when field_count_read != field_count then 'dataframe index column removed' end",
    ]) }}
{%- endmacro %}

{#- The rejections both files share, first in the order they apply: `when ... then ...` branches
    of the rejection_reason case (the CTE before must hold line, field_count and user_sha1).
    Every line goes through these, so the cheap tests come first: a line whose user is a sha1 cannot
    be a header (is_header wants no 40-hex run), and that check spares most lines the header regex
    over the whole line (with the blank test as a match, not a replace: 38 s less at full size). -#}
{% macro line_rejections(expected_fields) -%}
    when line rlike '^\\s*$'
        then 'blank line'
    when not {{ is_sha1('user_sha1') }} and {{ is_header('line') }}
        then 'header line: the original file has no header'
    when field_count != {{ expected_fields }}
        then concat('wrong field count: expected {{ expected_fields }} tab-separated fields, got ', field_count)
    when not {{ is_sha1('user_sha1') }}
        then 'user is not a 40-hex sha1'
{%- endmacro %}

{#- The cleanings of a line: those of the line itself, and those of its fields when it is staged. -#}
{% macro staged_cleanings() -%}
    case
        when rejection_reason is null then concat(line_cleanings, field_cleanings)
        else line_cleanings
    end
{%- endmacro %}

{#- The rows of `relation` (a CTE with `source_file`, `record` and `line`) with `record_copy`: 1 for
    the first of identical records of one file (smallest cleaned line), 2, 3... for the others. A
    batch's line equal to a line of an earlier file is no duplicate: it adds those plays again. A window over every line
    shuffles and sorts all of them by record (the 17.5M-line plays model took 303 s with it, 245 s
    this way, measured at full size). Here an aggregate over one 64-bit hash finds the records that
    repeat (few in any real file), and only the lines with such a hash go through the window; a
    hash collision only sends a line to the window, which compares the records themselves. Spark
    computes `relation` once per branch: three reads of the file cost less than one shuffle of all
    its lines. The repeated hashes are broadcast: without the hint Spark plans a sort-merge join,
    whose other side is every line (a 1.9 GB shuffle at full size, 20 s of the model's time). -#}
{% macro with_record_copies(relation) -%}
    select /*+ broadcast(repeated) */
        {{ relation }}.*,
        1 as record_copy
    from {{ relation }}
    left anti join ({{ _repeated_record_hashes(relation) }}) as repeated
        on xxhash64({{ relation }}.source_file, {{ relation }}.record) = repeated.record_hash

    union all

    select /*+ broadcast(repeated) */
        {{ relation }}.*,
        row_number() over (
            partition by {{ relation }}.source_file, {{ relation }}.record order by {{ relation }}.line asc
        ) as record_copy
    from {{ relation }}
    left semi join ({{ _repeated_record_hashes(relation) }}) as repeated
        on xxhash64({{ relation }}.source_file, {{ relation }}.record) = repeated.record_hash
{%- endmacro %}

{% macro _repeated_record_hashes(relation) -%}
    select xxhash64(source_file, record) as record_hash
    from {{ relation }}
    group by xxhash64(source_file, record)
    having count(*) > 1
{%- endmacro %}
