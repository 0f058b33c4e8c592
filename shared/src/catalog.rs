//! Pure planning of the raw Glue catalog: table names, table definitions, partitions.
