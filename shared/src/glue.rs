//! Thin Glue adapter: databases, tables and partitions; expected outcomes are values.
