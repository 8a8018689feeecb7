"""The console: a web app on 127.0.0.1 where operations and finance look at the integration.

`opayo-fba console` serves it against the local runtime or a deployed stack (with the
operator's own AWS credentials); see docs/console.md. It reads the stack through the same
stores and ops functions as the API and the CLI. Like the CLI, it is not shipped in the
Lambda layer (infra/packaging.py).
"""
