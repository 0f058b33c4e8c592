//! Parquet footers read with ranged GETs (last 8 bytes, then the footer), never the whole object.
