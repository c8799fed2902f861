"""The raw input: finding and checking the two raw files (``raw_files``), country names
(``countries``), the synthetic generator (``generate``) and the dialects real copies come in
(``dialects``).
"""
