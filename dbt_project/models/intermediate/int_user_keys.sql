-- Each listener's user_key, given once when first seen and never changed (macro stable_keys).
{{ config(materialized='incremental', incremental_strategy='append', full_refresh=false) }}

{{ stable_keys(ref('int_users_age_cleaned'), 'user_sha1', 'user_key') }}
