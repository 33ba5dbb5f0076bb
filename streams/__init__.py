"""The Faust service: settings, topics, agents, metrics and the command line.

Thin by design: it wires the pure parts in ``schemas`` and ``models`` to Kafka and
holds no business rule of its own.
"""
