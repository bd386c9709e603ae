"""The bottom layer: argument checks, id checks and secret redaction (imports only `errors`)."""
