"""Rate limiting: one budget per account.

`budget` (the `RateBudget` protocol and the `TokenBucket`) and `gate` (fair shares of one budget
between single calls, each watcher and each bulk job).
"""
