"""The translation table of athena_local.translate, row by row: the Trino text each Athena
statement becomes, or the reason it is refused. (The integration tests in
tests/tests/athena_local.rs run the same forms on Trino.)"""

import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from athena_local.translate import Unsupported, translate, vacuum_statements  # noqa: E402


class Translations(unittest.TestCase):
    def check(self, athena, kind, trino):
        plan = translate(athena)
        self.assertEqual(plan.kind, kind)
        self.assertEqual(plan.statements, trino)

    def refused(self, athena, reason):
        with self.assertRaises(Unsupported) as ctx:
            translate(athena)
        self.assertIn(reason, str(ctx.exception))

    def test_dml_runs_unchanged(self):
        for sql in ('SELECT "$path", x FROM "db"."t" WHERE y = \'a;b\'',
                    "WITH a AS (SELECT 1) SELECT * FROM a", "VALUES 1",
                    'MERGE INTO "c"."t" AS "t" USING (SELECT 1 AS id) AS "s" ON "t".id = "s".id WHEN MATCHED THEN DELETE',
                    "INSERT INTO t VALUES (1)", "DELETE FROM t WHERE id = 1", "UPDATE t SET a = 1"):
            plan = translate(sql + " ;")
            self.assertEqual(plan.statements, [sql])
            self.assertIn(plan.kind, ("query", "dml"))

    def test_create_iceberg_table(self):
        self.check(
            "CREATE TABLE IF NOT EXISTS `db`.`Orders` (`id` int, `s` string, `f` float, `b` binary, "
            "`ts` timestamp, `d` decimal(12,2), `c` char(3), `a` array<string>, `m` map<string,int>, "
            "`r` struct<x:int, y:string> COMMENT 'r') PARTITIONED BY (`id`, day(`ts`), bucket(16, `s`), "
            "truncate(4, `c`)) LOCATION 's3://b/p/' TBLPROPERTIES ('table_type'='ICEBERG', "
            "'format'='parquet', 'write_compression'='zstd', 'vacuum_max_snapshot_age_seconds'='60')",
            "ddl",
            ['CREATE TABLE IF NOT EXISTS "db"."orders" ("id" integer, "s" varchar, "f" real, "b" varbinary, '
             '"ts" timestamp(6), "d" decimal(12, 2), "c" varchar, "a" array(varchar), "m" map(varchar, integer), '
             '"r" row("x" integer, "y" varchar)) WITH (format = \'PARQUET\', location = \'s3://b/p/\', '
             "partitioning = ARRAY['id', 'day(ts)', 'bucket(s, 16)', 'truncate(c, 4)'], "
             "extra_properties = MAP(ARRAY['vacuum_max_snapshot_age_seconds'], ARRAY['60']))"])

    def test_create_refusals(self):
        self.refused("CREATE TABLE t (a int) LOCATION 's3://b/'", "table_type")
        self.refused("CREATE TABLE t (a int) TBLPROPERTIES ('table_type'='ICEBERG')", "LOCATION")
        self.refused("CREATE EXTERNAL TABLE t (a int) LOCATION 's3://b/'", "CREATE EXTERNAL TABLE")
        self.refused("CREATE TABLE t WITH (table_type='ICEBERG') AS SELECT 1", "CTAS")
        self.refused("CREATE TABLE t (a int) PARTITIONED BY (b string) LOCATION 's3://b/' "
                     "TBLPROPERTIES ('table_type'='ICEBERG')", "column definitions")
        self.refused("CREATE TABLE t (a int) PARTITIONED BY (day(x)) LOCATION 's3://b/' "
                     "TBLPROPERTIES ('table_type'='ICEBERG')", "not a column")
        self.refused("CREATE TABLE t (a int) LOCATION 's3://b/' "
                     "TBLPROPERTIES ('table_type'='ICEBERG', 'write_compression'='snappy')", "ZSTD")
        self.refused("CREATE TABLE t (a int) LOCATION 's3://b/' "
                     "TBLPROPERTIES ('table_type'='ICEBERG', 'optimize_rewrite_data_file_threshold'='5')",
                     "not supported")
        self.refused("CREATE TABLE t (a uniontype<int>) LOCATION 's3://b/' "
                     "TBLPROPERTIES ('table_type'='ICEBERG')", "uniontype")

    def test_add_columns_becomes_one_add_column_each(self):
        plan = translate("ALTER TABLE `db`.`t` ADD COLUMNS (`a` string, `b` decimal(5,1))")
        self.assertEqual(plan.kind, "add_columns")
        self.assertEqual(plan.table, '"db"."t"')
        self.assertEqual(plan.statements, ['ALTER TABLE "db"."t" ADD COLUMN "a" varchar',
                                           'ALTER TABLE "db"."t" ADD COLUMN "b" decimal(5, 1)'])
        self.refused("ALTER TABLE t ADD COLUMNS (a int, a string)", "more than once")
        self.refused("ALTER TABLE t ADD PARTITION (d='1')", "ADD PARTITION")
        self.refused("ALTER TABLE t DROP COLUMN a", "only ADD COLUMNS")

    def test_optimize(self):
        self.check('OPTIMIZE "db"."t" REWRITE DATA USING BIN_PACK', "ddl",
                   ['ALTER TABLE "db"."t" EXECUTE optimize'])
        self.check("OPTIMIZE `db`.`t` REWRITE DATA USING BIN_PACK WHERE `d` >= DATE '2026-01-01'", "ddl",
                   ['ALTER TABLE "db"."t" EXECUTE optimize WHERE "d" >= DATE \'2026-01-01\''])
        self.refused("OPTIMIZE t REWRITE DATA USING SORT", "BIN_PACK")

    def test_vacuum(self):
        plan = translate('VACUUM "db"."t"')
        self.assertEqual((plan.kind, plan.table), ("vacuum", '"db"."t"'))
        self.assertEqual(vacuum_statements('"db"."t"', 432000), [
            'ALTER TABLE "db"."t" EXECUTE expire_snapshots(retention_threshold => \'432000s\')',
            'ALTER TABLE "db"."t" EXECUTE remove_orphan_files(retention_threshold => \'432000s\')'])

    def test_databases_tables_and_utilities(self):
        self.check("CREATE DATABASE IF NOT EXISTS `d`", "ddl", ['CREATE SCHEMA IF NOT EXISTS "d"'])
        self.check("DROP DATABASE `d` CASCADE", "ddl", ['DROP SCHEMA "d" CASCADE'])
        self.check("DROP TABLE IF EXISTS `d`.`t`", "ddl", ['DROP TABLE IF EXISTS "d"."t"'])
        self.check("SHOW DATABASES", "utility", ["SHOW SCHEMAS"])
        self.check("SHOW TABLES IN `d`", "utility", ['SHOW TABLES IN "d"'])
        self.check("DESCRIBE `d`.`t`", "utility", ['DESCRIBE "d"."t"'])

    def test_everything_else_is_refused(self):
        self.refused("MSCK REPAIR TABLE t", "not supported")
        self.refused("SELECT 1; SELECT 2", "one statement")
        self.refused("   ", "empty")
        self.refused("SELECT 'open", "unterminated")
        self.refused("UNLOAD (SELECT 1) TO 's3://b/' WITH (format = 'PARQUET')", "not supported")


if __name__ == "__main__":
    unittest.main()
