//! Athena SQL generation: validated, quoted identifiers; DDL, MERGE and maintenance statements.
