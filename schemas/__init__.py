"""Data contracts of crmstream: what comes in, what goes out, and how raw bytes become one.

Pure Python, no Kafka and no I/O, so every rule about the shape of CRM data can be tested
and reused without a broker (see DESIGN.md: streams -> models -> schemas).
"""
