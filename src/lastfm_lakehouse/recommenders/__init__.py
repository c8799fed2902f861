"""The recommenders the dbt Python models run (ALS, user-kNN, MinHash LSH, most popular), their
parameters and the top-N machinery they share.
"""
