//! Thin S3 adapter: ranged reads of Parquet footers, listing DMS output, small JSON objects.
