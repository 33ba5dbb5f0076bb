"""Learning and matching: features, online River models, drift monitors, the duplicate matcher.

Pure Python with no Kafka, so models are trained, evaluated and pickled in tests and
benchmarks exactly as the workers run them. Filled by the duplicates and models work.
"""
