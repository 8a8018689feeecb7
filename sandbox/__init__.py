"""Local stand-ins for Amazon SP-API and Opayo (the local runtime is `local_runtime`, the
demo `demo`)."""
