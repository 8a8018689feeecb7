"""The local runtime: the synthesized template run on moto with in-process handlers."""
