"""Benchmarks of crmstream hot paths; run each as ``python -m bench.<name>``."""
