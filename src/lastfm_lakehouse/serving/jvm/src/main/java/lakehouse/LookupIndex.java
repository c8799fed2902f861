package lakehouse;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.catalog.CatalogTable;
import org.apache.spark.sql.catalyst.expressions.UnsafeProjection;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.classic.Dataset;
import org.apache.spark.sql.classic.SparkSession;
import org.apache.spark.sql.execution.datasources.HadoopFsRelation;
import org.apache.spark.sql.execution.datasources.LogicalRelation;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.IntegerType;
import org.apache.spark.sql.types.LongType;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.Platform;
import org.apache.spark.unsafe.types.UTF8String;
import scala.jdk.javaapi.CollectionConverters;

/**
 * One version of a served table held in the server's memory, grouped by one key column, so that a
 * BI point lookup ({@code where user_sha1 = '…'}) is answered without a Spark job
 * ({@link PointLookupRule}).
 *
 * <p>Why: a lookup over the table's files, even cached, costs a job (scheduling, closure cleaning,
 * a task per file) for ten rows; with 8 BI clients on 2 cores that was most of the server's CPU.
 *
 * <p>An index belongs to one version of the table. On Delta Lake that is the table's Delta version:
 * the index is read from that version (time travel) and answers only a relation analysed at that
 * version (the snapshot Delta pinned when it resolved the table), whether it asked for the latest
 * or for that version by number. On Parquet it is the table's location: the lakehouse publishes
 * each build into a new version directory and never writes into a published one. A query on
 * another version (a newer commit, an older one by time travel) is not answered from the index and
 * reads the files as without it. When a build publishes a new version, the server's served cache
 * drops the old index and builds the new version's, within a total budget for all indexes.
 *
 * <p>Rows are kept as Spark's own binary rows ({@link UnsafeRow}), those of one key in one byte
 * array: one object per key rather than per row, so the heap holds few objects.
 *
 * <p>Hand-written because no library provides it: Spark has no key index for a table, and the
 * server compiles this class with the JDK's javac (no Scala compiler here).
 */
public final class LookupIndex {
  private static final ConcurrentHashMap<String, LookupIndex> INDEXES = new ConcurrentHashMap<>();

  final String table;
  /** The version it holds: the table's location, {@code @v<Delta version>} appended on Delta. */
  final String location;
  final StructType schema;
  final int keyOrdinal;
  final DataType keyType;
  private final Map<Object, byte[]> rowsByKey;
  final long rows;
  final long bytes;

  private LookupIndex(
      String table,
      String location,
      StructType schema,
      int keyOrdinal,
      Map<Object, byte[]> rowsByKey,
      long rows,
      long bytes) {
    this.table = table;
    this.location = location;
    this.schema = schema;
    this.keyOrdinal = keyOrdinal;
    this.keyType = schema.fields()[keyOrdinal].dataType();
    this.rowsByKey = rowsByKey;
    this.rows = rows;
    this.bytes = bytes;
  }

  static boolean isEmpty() {
    return INDEXES.isEmpty();
  }

  static String tableKey(CatalogTable table) {
    String database = table.identifier().database().isDefined() ? table.identifier().database().get() : "";
    return (database + "." + table.identifier().table()).toLowerCase(Locale.ROOT);
  }

  /** The index answering for this relation: same table, same version, same schema; else null. */
  static LookupIndex of(LogicalRelation relation) {
    if (INDEXES.isEmpty() || relation.catalogTable().isEmpty()) {
      return null;
    }
    CatalogTable table = relation.catalogTable().get();
    LookupIndex index = INDEXES.get(tableKey(table));
    if (index == null
        || !index.location.equals(versionOf(relation, table))
        || !index.schema.equals(relation.relation().schema())) {
      return null;
    }
    return index;
  }

  /**
   * The Delta version a relation was analysed at (its file index's {@code snapshotAtAnalysis}),
   * or -1 when it is not a Delta table. By reflection: the server compiles this class against
   * Spark alone, and Delta's jars are on its class path only when the lakehouse is on Delta.
   */
  static long deltaVersion(LogicalRelation relation) {
    if (!(relation.relation() instanceof HadoopFsRelation files)) {
      return -1;
    }
    Object fileIndex = files.location();
    if (!fileIndex.getClass().getName().startsWith("org.apache.spark.sql.delta.")) {
      return -1; // a plain file index: Parquet
    }
    try {
      // TahoeLogFileIndex (as analysed); an index Delta prepared for a scan has its version itself
      Object snapshot = fileIndex;
      try {
        snapshot = fileIndex.getClass().getMethod("snapshotAtAnalysis").invoke(fileIndex);
      } catch (NoSuchMethodException e) {
        // PreparedDeltaFileIndex: a snapshot descriptor of its own
      }
      return (Long) snapshot.getClass().getMethod("version").invoke(snapshot);
    } catch (ReflectiveOperationException | RuntimeException e) {
      return -2; // a Delta index of another shape: never matches an index (-1 is Parquet's)
    }
  }

  /** What names one immutable content of the table: its location, plus its Delta version. */
  static String versionOf(LogicalRelation relation, CatalogTable table) {
    long version = deltaVersion(relation);
    String location = String.valueOf(table.location());
    return version == -1 ? location : location + "@v" + version;
  }

  /** Key types an index supports: a string compared byte for byte, an int or a long. */
  static boolean supported(DataType type) {
    return (type instanceof StringType string && string.supportsBinaryEquality())
        || type instanceof IntegerType
        || type instanceof LongType;
  }

  private static Object keyOf(InternalRow row, int ordinal, DataType type) {
    if (row.isNullAt(ordinal)) {
      return null;
    }
    Object value = row.get(ordinal, type);
    return value instanceof UTF8String string ? string.copy() : value;
  }

  /** The rows whose key is one of {@code keys} (Literal values: UTF8String, Integer or Long). */
  List<InternalRow> rows(Collection<Object> keys) {
    List<InternalRow> found = new ArrayList<>();
    int fields = schema.fields().length;
    for (Object key : keys) {
      byte[] packed = key == null ? null : rowsByKey.get(key);
      if (packed == null) {
        continue;
      }
      int offset = 0;
      while (offset < packed.length) {
        int size = Platform.getInt(packed, Platform.BYTE_ARRAY_OFFSET + offset);
        UnsafeRow row = new UnsafeRow(fields);
        row.pointTo(packed, Platform.BYTE_ARRAY_OFFSET + offset + 4, size);
        found.add(row);
        offset += 4 + size;
      }
    }
    return found;
  }

  /** A growing byte array: the rows of one key while the index is built. */
  private static final class Packed {
    byte[] data = new byte[128];
    int length;

    void add(UnsafeRow row) {
      int size = row.getSizeInBytes();
      if (length + 4 + size > data.length) {
        data = java.util.Arrays.copyOf(data, Math.max(data.length * 2, length + 4 + size));
      }
      Platform.putInt(data, Platform.BYTE_ARRAY_OFFSET + length, size);
      row.writeToMemory(data, Platform.BYTE_ARRAY_OFFSET + length + 4);
      length += 4 + size;
    }
  }

  private static LogicalRelation relationOf(LogicalPlan plan) {
    if (plan instanceof LogicalRelation relation) {
      return relation;
    }
    Iterator<LogicalPlan> children = CollectionConverters.asJava(plan.children()).iterator();
    return children.hasNext() && plan.children().size() == 1 ? relationOf(children.next()) : null;
  }

  /**
   * Reads {@code table} as it is now in {@code session}'s catalog and keeps it, grouped by {@code
   * keyColumn}, for lookups on that version. Refused (and nothing kept) when the table is not a
   * file table, has no such column or one of another type, or would take more than {@code
   * maxBytes}, or more than what {@code totalBytes} leaves beside the other tables' indexes. The
   * table's previous index is dropped first: old and new are never held at once (lookups read the
   * files meanwhile). Returns what it did, in one line.
   */
  public static String build(
      SparkSession session, String table, String keyColumn, long maxBytes, long totalBytes) {
    Dataset<Row> frame = session.table(table);
    LogicalRelation relation = relationOf(frame.queryExecution().analyzed());
    if (relation == null || relation.catalogTable().isEmpty()) {
      return "not a file table: not indexed";
    }
    INDEXES.remove(tableKey(relation.catalogTable().get()));
    long others = INDEXES.values().stream().mapToLong(index -> index.bytes).sum();
    long allowed = Math.min(maxBytes, totalBytes - others);
    long delta = deltaVersion(relation);
    if (delta >= 0) {
      // read exactly the version the index will be labelled with: a commit landing between the
      // analysis above and the scan would otherwise be read under the older version's label
      frame = session.sql("select * from " + table + " version as of " + delta);
      relation = relationOf(frame.queryExecution().analyzed());
      if (relation == null || relation.catalogTable().isEmpty() || deltaVersion(relation) != delta) {
        return "version " + delta + " of a Delta table not read as one file relation: not indexed";
      }
    }
    StructType schema = relation.relation().schema();
    if (!java.util.Arrays.asList(schema.fieldNames()).contains(keyColumn)) {
      return "no column " + keyColumn + " (columns: " + String.join(", ", schema.fieldNames()) + "): not indexed";
    }
    int ordinal = schema.fieldIndex(keyColumn);
    DataType keyType = schema.fields()[ordinal].dataType();
    if (!supported(keyType)) {
      return "key " + keyColumn + " is " + keyType.simpleString() + ", not a string, int or long: not indexed";
    }
    if (!frame.schema().equals(schema)) {
      return "reads as " + frame.schema().simpleString() + ", not its relation's schema: not indexed";
    }
    UnsafeProjection toUnsafe = UnsafeProjection.create(schema);
    HashMap<Object, Packed> building = new HashMap<>();
    long rows = 0;
    long bytes = 0;
    // One job per partition, rows as bytes (not toRdd().toLocalIterator(), whose rows are reused
    // objects): no single result is larger than a partition, so spark.driver.maxResultSize still
    // guards the server's heap.
    Iterator<InternalRow> scan =
        CollectionConverters.asJava(frame.queryExecution().executedPlan().executeToIterator());
    while (scan.hasNext()) {
      UnsafeRow row = toUnsafe.apply(scan.next());
      Object key = keyOf(row, ordinal, keyType);
      if (key == null) {
        continue; // a null key never equals a literal: such rows are never looked up
      }
      building.computeIfAbsent(key, k -> new Packed()).add(row);
      rows++;
      bytes += 4 + row.getSizeInBytes();
      if (bytes > allowed) {
        return String.format(
            Locale.ROOT,
            "more than %d MB in memory (%d MB a table, %d MB for all, %d MB held by the others): not indexed",
            Math.max(allowed, 0) >> 20,
            maxBytes >> 20,
            totalBytes >> 20,
            others >> 20);
      }
    }
    HashMap<Object, byte[]> rowsByKey = new HashMap<>(building.size() * 4 / 3 + 1);
    for (Map.Entry<Object, Packed> entry : building.entrySet()) {
      rowsByKey.put(entry.getKey(), java.util.Arrays.copyOf(entry.getValue().data, entry.getValue().length));
    }
    CatalogTable catalogTable = relation.catalogTable().get();
    LookupIndex index =
        new LookupIndex(
            tableKey(catalogTable),
            versionOf(relation, catalogTable),
            schema,
            ordinal,
            rowsByKey,
            rows,
            bytes);
    INDEXES.put(index.table, index);
    return String.format(
        Locale.ROOT,
        "%,d rows, %,d keys (%s), %.1f MB of %s",
        rows,
        rowsByKey.size(),
        keyColumn,
        bytes / 1048576.0,
        index.location);
  }

  /** Forgets the table's index (dropped, or served from its files from now on). */
  public static boolean drop(String table) {
    return INDEXES.remove(table.toLowerCase(Locale.ROOT)) != null;
  }
}
