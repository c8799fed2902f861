package lakehouse;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import org.apache.hive.service.CompositeService;
import org.apache.hive.service.Service;
import org.apache.hive.service.cli.CLIService;
import org.apache.hive.service.cli.HiveSQLException;
import org.apache.hive.service.cli.SessionHandle;
import org.apache.hive.service.cli.operation.ExecuteStatementOperation;
import org.apache.hive.service.cli.operation.Operation;
import org.apache.hive.service.cli.operation.OperationManager;
import org.apache.hive.service.cli.session.SessionManager;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.catalog.CatalogTable;
import org.apache.spark.sql.catalyst.catalog.HiveTableRelation;
import org.apache.spark.sql.catalyst.expressions.CallMethodViaReflection;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.plans.logical.Command;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.View;
import org.apache.spark.sql.connector.catalog.Identifier;
import org.apache.spark.sql.execution.command.ExplainCommand;
import org.apache.spark.sql.execution.command.SetCommand;
import org.apache.spark.sql.execution.datasources.HadoopFsRelation;
import org.apache.spark.sql.execution.datasources.LogicalRelation;
import org.apache.spark.sql.execution.datasources.v2.DataSourceV2Relation;
import org.apache.spark.sql.hive.thriftserver.server.SparkSQLOperationManager;
import scala.Function1;
import scala.Option;
import scala.Tuple2;
import scala.runtime.BoxedUnit;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The server's roles, enforced on every statement of a HiveServer2 (Thrift) session after Spark
 * analyses it (a check rule, {@code injectCheckRule}). A <b>reader</b> (the LDAP reader group: BI
 * tools, Superset) may SELECT, SHOW, DESCRIBE, USE and EXPLAIN the published schemas and nothing
 * else: every other command (DDL, DML, INSERT ... DIRECTORY, ADD JAR, CREATE FUNCTION, CACHE, SET,
 * RESET), any table outside the published schemas, a path-based source ({@code text.`/etc/x`}, a
 * Delta path) or another catalog (JDBC), and reflection ({@code reflect}, {@code java_method}) are
 * refused with an error naming the rule. A <b>builder</b> (the builder group: dbt) may do anything.
 * A user in neither group, or logged in with a DN for a name, may do nothing.
 *
 * <p>Hand-written because no authorization plugin fits Spark 4.2's Thrift server: Apache Kyuubi's
 * Spark AuthZ plugin needs Apache Ranger (an admin server and its policy store) and builds for
 * Spark 3; Spark itself only authorises at the storage layer (file permissions), which cannot tell
 * BI sessions from builds in one server process.
 *
 * <p>Readers' results are bounded in total: each by {@code spark.driver.maxResultSize}, and at most
 * {@code maxOpenResults} readers' statements may be open (running, or holding results not yet
 * fetched and closed) at once; one more is refused until a client closes one or the idle reaper
 * does.
 *
 * <p>Spark Connect sessions are the builder's: the server requires its pre-shared token on every
 * Connect request, and only the builder's account holds it. The server's own session (the served
 * cache) is trusted.
 */
public final class Authorization {
  /** Commands a reader may run: SHOW, DESCRIBE, USE and EXPLAIN, as parsed and as analysed. */
  private static final Set<String> READ_COMMANDS =
      Set.of(
          "ShowTables", "ShowTablesCommand", "ShowTablesExtended", "ShowNamespaces",
          "ShowNamespacesCommand", "ShowColumns", "ShowColumnsCommand", "ShowViews",
          "ShowViewsCommand", "ShowFunctions", "ShowFunctionsCommand", "ShowCatalogs",
          "ShowCatalogsCommand", "ShowCurrentNamespace", "ShowCurrentNamespaceCommand",
          "ShowCreateTable", "ShowCreateTableCommand", "ShowTableProperties",
          "ShowTablePropertiesCommand", "ShowPartitions", "ShowPartitionsCommand",
          "DescribeRelation", "DescribeTableCommand", "DescribeColumn", "DescribeColumnCommand",
          "DescribeNamespace", "DescribeDatabaseCommand", "DescribeFunction",
          "DescribeFunctionCommand", "DescribeQueryCommand", "DescribeDeltaHistory",
          "DescribeDeltaHistoryCommand", "SetCatalogAndNamespace", "SetCatalogCommand",
          "SetNamespaceCommand", "ExplainCommand");
  private static final String DELTA_LOG_INDEX = "org.apache.spark.sql.delta.DeltaLogFileIndex";
  /** Session settings a reader may change: none the server guards. */
  private static final Set<String> READER_SETTABLE = Set.of("spark.sql.session.timezone");
  /**
   * Settings (lower case, prefixes) a reader's session must keep as the server set them: its
   * containment (query timeout), what it may read (files, catalogs), and what it redacts.
   */
  private static final List<String> GUARDED_SETTINGS =
      List.of(
          "spark.sql.thriftserver.", "spark.sql.catalog.", "spark.sql.defaultcatalog",
          "spark.sql.runsqlonfiles", "spark.sql.extensions", "spark.hadoop.", "spark.redaction.",
          "spark.sql.redaction.", "spark.connect.");

  private static volatile SessionManager sessions;
  /** Readers' statements that may be open at once (LAKEHOUSE_MAX_OPEN_RESULTS). */
  private static volatile int maxOpenResults = Integer.MAX_VALUE;
  private static volatile DirectoryRoles roles;
  private static volatile Set<String> published = Set.of();
  private static volatile SparkSession trusted;
  private static volatile boolean starting;
  /** The settings of a session as the server opens it, before a client's overrides. */
  private static volatile Map<String, String> baseline = Map.of();
  private static final Map<SparkSession, String> USERS = Collections.synchronizedMap(new WeakHashMap<>());

  private Authorization() {}

  /**
   * The server's own session: trusted. Called before the Thrift service starts; with {@code
   * rolesComing}, every other session is refused until {@link #enforce} has run (no statement
   * slips through while the server starts).
   */
  public static void trust(SparkSession session, boolean rolesComing) {
    trusted = session;
    starting = rolesComing;
  }

  /**
   * Enforce roles on the Thrift sessions of {@code server} (a HiveThriftServer2), reading group
   * memberships from {@code directory}. {@code publishedSchemas}: comma-separated names; a name
   * ending in {@code *} stands for every schema it begins (e.g. {@code lastfm_*}: the seeds).
   * {@code openResults}: readers' statements that may be open at once.
   */
  public static void enforce(
      CompositeService server, String publishedSchemas, DirectoryRoles directory, int openResults) {
    maxOpenResults = openResults;
    publish(publishedSchemas);
    baseline = Map.copyOf(CollectionConverters.asJava(trusted.newSession().sessionState().conf().getAllConfs()));
    for (Service service : server.getServices()) {
      if (service instanceof CLIService cli) {
        sessions = cli.getSessionManager();
      }
    }
    if (sessions == null) {
      throw new IllegalStateException("no CLIService in " + server);
    }
    roles = directory;
    starting = false;
  }

  /** The schemas readers may read: comma-separated names, {@code x_*} for every {@code x_} one. */
  static void publish(String publishedSchemas) {
    published = Set.of(publishedSchemas.toLowerCase(Locale.ROOT).split(","));
  }

  /**
   * What a reader's analysed statement is checked for (settings and the open-results bound aside):
   * returns when {@code user}, a reader, may run it, else throws the refusal naming the rule.
   */
  static void checkReader(String user, LogicalPlan plan) {
    inspect(user, plan);
  }

  /** The check rule for one session ({@code SparkSessionExtensions.injectCheckRule}). */
  static Function1<LogicalPlan, BoxedUnit> rule(SparkSession session) {
    return plan -> {
      check(session, plan);
      return BoxedUnit.UNIT;
    };
  }

  private static void check(SparkSession session, LogicalPlan plan) {
    if (session == trusted) {
      return; // the server's own work
    }
    if (roles == null) {
      if (starting) {
        throw new SecurityException("lakehouse authorization: the server is still starting; retry");
      }
      return; // no roles configured (authentication off: loopback only)
    }
    String user = thriftUser(session);
    if (user == null) {
      return; // a Spark Connect session: the builder's token was checked on its every request
    }
    if (user.contains("=") || user.contains(",")) {
      throw refused(user, "none", "log in with a plain user name, not a DN");
    }
    String role = roles.roleOf(user);
    if (DirectoryRoles.BUILDER.equals(role)) {
      return;
    }
    if (role == null) {
      throw refused(user, "none", "the user is in neither the reader nor the builder group");
    }
    inspectSettings(user, session);
    inspect(user, plan);
    admit(user);
  }

  /**
   * Refuses a reader's statement when readers already have {@code maxOpenResults} statements open
   * (this one counts: it is registered before it is analysed), so that what their results hold is
   * bounded by that many times {@code spark.driver.maxResultSize}. Reads the operation manager's
   * map by reflection: HiveServer2 has no count of open operations, and no per-user limit in the
   * version Spark embeds.
   */
  @SuppressWarnings("unchecked")
  private static void admit(String user) {
    List<Operation> open;
    OperationManager operations = sessions.getOperationManager();
    try {
      Field field = OperationManager.class.getDeclaredField("handleToOperation");
      field.setAccessible(true);
      synchronized (operations) { // its methods that change the map hold this lock
        open = new ArrayList<>(((Map<?, Operation>) field.get(operations)).values());
      }
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("lakehouse: cannot count the server's open statements", e);
    }
    long readers = 0;
    for (Operation operation : open) {
      if (operation instanceof ExecuteStatementOperation
          && !DirectoryRoles.BUILDER.equals(roles.roleOf(operation.getParentSession().getUserName()))) {
        readers++;
      }
    }
    if (readers > maxOpenResults) {
      throw refused(
          user,
          DirectoryRoles.READER,
          "readers already have " + (readers - 1) + " statements open on the server (at most "
              + maxOpenResults + ", LAKEHOUSE_MAX_OPEN_RESULTS): close finished statements, or retry "
              + "once idle ones are closed");
    }
  }

  /** The HiveServer2 user of {@code session}, or null when it is not a Thrift session. */
  private static String thriftUser(SparkSession session) {
    String known = USERS.get(session);
    if (known != null) {
      return known;
    }
    SessionManager manager = sessions;
    if (manager == null) {
      throw new SecurityException("lakehouse authorization: the server is still starting; retry");
    }
    var contexts = ((SparkSQLOperationManager) manager.getOperationManager()).sessionToContexts();
    for (Map.Entry<SessionHandle, SparkSession> entry : contexts.entrySet()) {
      if (entry.getValue() == session) {
        try {
          String user = manager.getSession(entry.getKey()).getUserName();
          USERS.put(session, user);
          return user;
        } catch (HiveSQLException e) {
          throw new SecurityException("lakehouse authorization: the session has closed", e);
        }
      }
    }
    return null;
  }

  /**
   * A client may hand settings to the session it opens (HiveServer2's {@code set:hiveconf:} session
   * configuration, which Spark applies without a statement): a reader's session must keep the
   * server's, or a reader could lift the query timeout or swap the session catalog for a JDBC one.
   */
  private static void inspectSettings(String user, SparkSession session) {
    Map<String, String> settings = CollectionConverters.asJava(session.sessionState().conf().getAllConfs());
    for (Map.Entry<String, String> setting : settings.entrySet()) {
      String key = setting.getKey();
      String lower = key.toLowerCase(Locale.ROOT);
      if (GUARDED_SETTINGS.stream().anyMatch(lower::startsWith)
          && !setting.getValue().equals(baseline.get(key))) {
        throw refused(
            user,
            DirectoryRoles.READER,
            "readers may not change server settings: " + key + " was set when the session opened");
      }
    }
  }

  private static void inspect(String user, LogicalPlan node) {
    String kind = node.getClass().getSimpleName();
    if (node instanceof View view && !view.isTempView()) {
      // a view in a published schema was written by the builder: its definition is trusted
      require(user, view.desc(), kind);
      return;
    }
    if (node instanceof SetCommand set) {
      Option<Tuple2<String, Option<String>>> kv = set.kv();
      if (kv.isEmpty()
          || kv.get()._2().isEmpty()
          || !READER_SETTABLE.contains(kv.get()._1().toLowerCase(Locale.ROOT))) {
        throw refused(user, DirectoryRoles.READER, "readers may not read or change server settings (SET)");
      }
      return;
    }
    if (node instanceof ExplainCommand explain) {
      inspectCommands(user, explain.logicalPlan());
      return;
    }
    if (node instanceof Command && !READ_COMMANDS.contains(kind)) {
      throw refused(
          user,
          DirectoryRoles.READER,
          "readers may only SELECT, SHOW, DESCRIBE, USE and EXPLAIN, not run " + kind);
    }
    if (node instanceof LogicalRelation relation) {
      if (relation.catalogTable().isDefined()) {
        require(user, relation.catalogTable().get(), kind);
      } else if (!deltaLog(relation)) {
        throw refused(user, DirectoryRoles.READER, "readers may not read files by path");
      }
    } else if (node instanceof HiveTableRelation relation) {
      require(user, relation.tableMeta(), kind);
    } else if (node instanceof DataSourceV2Relation relation) {
      requireV2(user, relation);
    }
    for (Expression expression : CollectionConverters.asJava(node.expressions())) {
      inspectExpression(user, expression);
    }
    for (LogicalPlan child : CollectionConverters.asJava(node.children())) {
      inspect(user, child);
    }
    for (LogicalPlan subquery : CollectionConverters.asJava(node.subqueries())) {
      inspect(user, subquery);
    }
  }

  /**
   * Delta's own read of a table's transaction log, which it runs in the session that resolves the
   * table (while a reader's query is analysed): a relation over Delta's log file index, which no
   * SQL statement can name. A Delta table read by path ({@code delta.`/x`}) is a relation over
   * another index, with no catalog table: refused.
   */
  private static boolean deltaLog(LogicalRelation relation) {
    return relation.relation() instanceof HadoopFsRelation files
        && DELTA_LOG_INDEX.equals(files.location().getClass().getName());
  }

  /** An EXPLAINed plan is not run, but a reader may not EXPLAIN what they may not run either. */
  private static void inspectCommands(String user, LogicalPlan node) {
    String kind = node.getClass().getSimpleName();
    if (node instanceof Command && !READ_COMMANDS.contains(kind) || node instanceof SetCommand) {
      throw refused(user, DirectoryRoles.READER, "readers may not EXPLAIN " + kind);
    }
    for (LogicalPlan child : CollectionConverters.asJava(node.children())) {
      inspectCommands(user, child);
    }
  }

  private static void inspectExpression(String user, Expression expression) {
    if (expression instanceof CallMethodViaReflection) {
      throw refused(user, DirectoryRoles.READER, "readers may not call Java methods (reflect, java_method)");
    }
    for (Expression child : CollectionConverters.asJava(expression.children())) {
      inspectExpression(user, child);
    }
  }

  private static void require(String user, CatalogTable table, String kind) {
    Option<String> schema = table.identifier().database();
    if (schema.isEmpty() || !isPublished(schema.get())) {
      throw refused(user, DirectoryRoles.READER, "readers may read only the published schemas " + published
          + ", not " + table.identifier().unquotedString());
    }
  }

  private static void requireV2(String user, DataSourceV2Relation relation) {
    boolean sessionCatalog =
        relation.catalog().isDefined() && "spark_catalog".equals(relation.catalog().get().name());
    Identifier identifier = relation.identifier().isDefined() ? relation.identifier().get() : null;
    List<String> namespace = identifier == null ? List.of() : List.of(identifier.namespace());
    if (!sessionCatalog
        || namespace.size() != 1
        || !isPublished(namespace.get(0))) {
      String name = identifier == null ? relation.name() : identifier.toString();
      throw refused(user, DirectoryRoles.READER, "readers may read only the published schemas " + published
          + " of the session catalog, not " + name);
    }
  }

  private static boolean isPublished(String schema) {
    String name = schema.toLowerCase(Locale.ROOT);
    for (String entry : published) {
      boolean prefix = entry.endsWith("*");
      if (prefix ? name.startsWith(entry.substring(0, entry.length() - 1)) : name.equals(entry)) {
        return true;
      }
    }
    return false;
  }

  private static SecurityException refused(String user, String role, String rule) {
    return new SecurityException(
        "lakehouse authorization: refused for user '" + user + "' (role " + role + "): " + rule);
  }
}
