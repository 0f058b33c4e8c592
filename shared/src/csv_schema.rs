//! CSV table columns: from a header row (`AddColumnName=true`) or a declared column manifest.
