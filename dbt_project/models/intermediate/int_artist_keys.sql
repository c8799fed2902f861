-- Each merged artist's artist_key, given once when first seen and never changed (macro stable_keys).
{{ config(materialized='incremental', incremental_strategy='append', full_refresh=false) }}

{{ stable_keys(ref('int_artists_merged_by_mbid'), 'artist_id', 'artist_key') }}
