"""Watching messages until they finish: one scheduler, one request budget, pushes and polls.

Each module owns one job:

- `policy`: the options (`PollPolicy`, `WatchSettings`, `STATUS_FACTORS`, `STATUS_RANK`) and the
  pure cadence rules: `first_poll_delay`, `next_interval`, `jittered`, and `gap_fill_due` (when a
  push+poll watcher polls to find a lost push).
- `gapfill`: the evidence that rule reads (silence curves, push health); pure bookkeeping.
- `push`: pushed steps: ranking (each step once, in lifecycle order), the loss evidence they
  carry, and the pushes' explicit mode ("none", "flowing", "stopped") in `PushTracker`.
- `scheduler`: the job: one heap of watched messages, token first then the most overdue one,
  the polls, deadlines (each message's ``timeout``) and backpressure.
- `watched`: one watched message's record, and the sharing of its last activity's values.
- `checkpoint`: the saved watch (msgpack) and its checks.
- `watcher`: the public `Watcher` handle and `new_watcher`.
"""
