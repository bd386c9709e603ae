"""Parity harness: the official `sent_dm` SDK and `sentdm_async` against one capturing server.

`methods` lists the SDK's async methods and builds their arguments, `fill` makes values from the
SDK's own type annotations (request TypedDicts, response pydantic models), `server` captures
requests and answers canned bodies, `compare` walks an SDK model and ours side by side.
"""
