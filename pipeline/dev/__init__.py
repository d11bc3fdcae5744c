"""Dev tools: synthetic TLC months, the demo, the benchmark, its probes. Never shipped to Glue."""
