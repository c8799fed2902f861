"""Offline evaluation: ranking metrics, the hold-out protocol that scores every recommender, ALS tuning."""
