"""Offline evaluation: the hold-out protocol that scores every recommender (by
``recommenders.metrics``), and ALS tuning."""
