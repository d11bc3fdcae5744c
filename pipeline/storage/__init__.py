"""Storage adapters for the lake: a local folder or two S3 buckets behind one `Lake` protocol."""
