"""Bulk work: the one fan-out engine and the activity-log stream built on it.

`engine` runs background work into a bounded buffer behind a handle; `activities` is the
bulk activity-log fetch on it.
"""
