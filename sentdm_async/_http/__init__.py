"""The request pipeline: one API call end to end.

`transport` (request -> retries -> redirects -> one attempt -> decode), `retry` (the one retry
decision), `options` (client and per-call options, each default once) and `wire` (the envelope).
It takes its budget from the rate-limiting layer by a typed handle, never by import.
"""
