package lakehouse;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.classic.SparkSession;
import org.apache.spark.sql.execution.CommandExecutionMode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A reader's statements as Spark analyses them, against the rules {@link Authorization} applies
 * on the server: a real local SparkSession with a published and an unpublished schema. The plans
 * are only analysed (commands are not run), as the check rule sees them before a statement runs.
 */
class AuthorizationTest {
  private static final String USER = "bi";
  private static SparkSession spark;
  private static Path files;

  @BeforeAll
  static void start() throws Exception {
    Path home = Files.createTempDirectory("lakehouse-authorization-test");
    files = home.resolve("loose");
    spark =
        (SparkSession)
            SparkSession.builder()
                .master("local[1]")
                .appName("AuthorizationTest")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.warehouse.dir", home.resolve("warehouse").toString())
                .config("spark.sql.shuffle.partitions", "1")
                .getOrCreate();
    for (String schema : new String[] {"lastfm", "lastfm_seeds", "lastfmx", "private"}) {
      spark.sql("create database " + schema);
      spark.sql("create table " + schema + ".t (user_sha1 string, plays bigint) using parquet");
    }
    spark.sql("create view lastfm.v as select * from private.t");
    spark.range(3).write().parquet(files.toString());
    Authorization.publish("lastfm,lastfm_*");
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  private static LogicalPlan analysed(String sql) throws Exception {
    LogicalPlan parsed = spark.sessionState().sqlParser().parsePlan(sql);
    return spark.sessionState().executePlan(parsed, CommandExecutionMode.SKIP()).analyzed();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "select * from lastfm.t where user_sha1 = 'x'",
        "select count(*) from lastfm_seeds.t",
        "select * from lastfm.t a join lastfm_seeds.t b using (user_sha1)",
        // a view in a published schema was written by the builder: what it reads is trusted
        "select * from lastfm.v",
        "show tables in lastfm",
        "describe table lastfm.t",
        "explain select * from lastfm.t",
        "set spark.sql.session.timeZone = UTC",
      })
  void aReaderMayRead(String sql) {
    assertDoesNotThrow(() -> Authorization.checkReader(USER, analysed(sql)), sql);
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "select * from private.t | published schemas",
        "select * from lastfmx.t | published schemas",
        "select * from lastfm.t where user_sha1 in (select user_sha1 from private.t) | published schemas",
        "drop table lastfm.t | may only SELECT, SHOW, DESCRIBE, USE and EXPLAIN",
        "insert into lastfm.t values ('x', 1) | may only SELECT",
        "create table lastfm.copy as select * from lastfm.t | may only SELECT",
        "cache table lastfm.t | may only SELECT",
        "explain drop table lastfm.t | may not EXPLAIN",
        "set spark.sql.catalog.spark_catalog = x | may not read or change server settings",
        "set | may not read or change server settings",
        "select reflect('java.lang.System', 'getProperty', 'user.home') | Java methods",
      })
  void aReaderIsRefusedWithTheRule(String sql, String rule) {
    SecurityException refused =
        assertThrows(SecurityException.class, () -> Authorization.checkReader(USER, analysed(sql)), sql);
    assertTrue(refused.getMessage().contains("refused for user 'bi' (role reader)"), refused.getMessage());
    assertTrue(refused.getMessage().contains(rule), sql + ": " + refused.getMessage());
  }

  @Test
  void aReaderMayNotReadFilesByPath() {
    String sql = "select * from parquet.`" + files + "`";
    SecurityException refused =
        assertThrows(SecurityException.class, () -> Authorization.checkReader(USER, analysed(sql)));
    assertTrue(refused.getMessage().contains("may not read files by path"), refused.getMessage());
  }
}
