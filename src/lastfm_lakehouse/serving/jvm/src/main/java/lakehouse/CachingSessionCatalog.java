package lakehouse;

import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.analysis.NoSuchTableException;
import org.apache.spark.sql.catalyst.catalog.DatabaseEvent;
import org.apache.spark.sql.catalyst.catalog.ExternalCatalogEvent;
import org.apache.spark.sql.catalyst.catalog.ExternalCatalogEventListener;
import org.apache.spark.sql.catalyst.catalog.TableEvent;
import org.apache.spark.sql.connector.catalog.DelegatingCatalogExtension;
import org.apache.spark.sql.connector.catalog.Identifier;
import org.apache.spark.sql.connector.catalog.Table;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

/**
 * The server's session catalog: Spark's own (Hive metastore) with each table's metadata kept for a
 * few seconds, so that a BI point lookup does not ask the metastore again for the table it read a
 * moment ago.
 *
 * <p>Why: every query resolves its tables through {@code HiveExternalCatalog}, whose calls are
 * serialised on one lock and go to the metastore database; with 8 BI clients that lock was the
 * server's bottleneck (JFR: 28-35 % of its CPU in metastore calls for one user's top-10).
 *
 * <p>Fresh enough: an entry lives {@code lakehouse.catalog.ttlMillis} (the server sets it to
 * {@code spark.sql.metadataCacheTTLSeconds}, the staleness Spark's own relation cache already
 * allows), and any create, alter, drop or rename of a table through this server evicts it at once
 * (the external catalog's listener bus calls us synchronously). Another process's publish (an
 * embedded build on the same metastore) is seen within the TTL, as with the relation cache.
 *
 * <p>Databases are kept the same way ({@link #namespaceExists}).
 *
 * <p>Hand-written because no library provides it: Spark has no metadata cache for its session
 * catalog, and the server compiles this class with the JDK's javac (no Scala compiler here).
 */
public class CachingSessionCatalog extends DelegatingCatalogExtension {
  private static final ConcurrentHashMap<String, Entry> CACHE = new ConcurrentHashMap<>();
  // namespace -> when it was last seen to exist (a BI tool's USE asks on every connection)
  private static final ConcurrentHashMap<String, Long> NAMESPACES = new ConcurrentHashMap<>();
  private static final AtomicLong GENERATION = new AtomicLong();
  private static volatile boolean listening = false;

  private static final class Entry {
    final Table table;
    final long loadedAt;

    Entry(Table table, long loadedAt) {
      this.table = table;
      this.loadedAt = loadedAt;
    }
  }

  private static long ttlNanos() {
    return Long.getLong("lakehouse.catalog.ttlMillis", 5000L) * 1_000_000L;
  }

  private static String key(String database, String table) {
    return (database + "." + table).toLowerCase(Locale.ROOT);
  }

  private static String key(Identifier ident) {
    String[] ns = ident.namespace();
    return key(ns.length == 0 ? "default" : ns[ns.length - 1], ident.name());
  }

  private static void evict(String key) {
    GENERATION.incrementAndGet();
    CACHE.remove(key);
  }

  private static void clear() {
    GENERATION.incrementAndGet();
    CACHE.clear();
    NAMESPACES.clear();
  }

  @Override
  public void initialize(String name, CaseInsensitiveStringMap options) {
    super.initialize(name, options);
    synchronized (CachingSessionCatalog.class) {
      if (!listening) {
        ExternalCatalogEventListener listener =
            new ExternalCatalogEventListener() {
              @Override
              public void onEvent(ExternalCatalogEvent event) {
                if (event instanceof TableEvent) {
                  TableEvent table = (TableEvent) event;
                  evict(key(table.database(), table.name()));
                } else if (event instanceof DatabaseEvent) {
                  clear();
                }
              }
            };
        SparkSession.active().sharedState().externalCatalog().addListener(listener);
        listening = true;
      }
    }
  }

  @Override
  public Table loadTable(Identifier ident) throws NoSuchTableException {
    String key = key(ident);
    long now = System.nanoTime();
    Entry hit = CACHE.get(key);
    if (hit != null && now - hit.loadedAt < ttlNanos()) {
      return hit.table;
    }
    long generation = GENERATION.get();
    Table table = super.loadTable(ident);
    if (GENERATION.get() == generation) { // nothing changed while it loaded: safe to keep
      CACHE.put(key, new Entry(table, now));
    }
    return table;
  }

  /**
   * Whether a namespace (database) exists, a positive answer kept for the TTL: Superset and other
   * BI tools open a session per query and set its database ({@code USE lastfm}), which asked the
   * metastore every time. A create or drop of a database through this server clears the cache.
   */
  @Override
  public boolean namespaceExists(String[] namespace) {
    String key = String.join(".", namespace).toLowerCase(Locale.ROOT);
    long now = System.nanoTime();
    Long seen = NAMESPACES.get(key);
    if (seen != null && now - seen < ttlNanos()) {
      return true;
    }
    long generation = GENERATION.get();
    boolean exists = super.namespaceExists(namespace);
    if (exists && GENERATION.get() == generation) {
      NAMESPACES.put(key, now);
    }
    return exists;
  }

  @Override
  public void invalidateTable(Identifier ident) {
    evict(key(ident));
    super.invalidateTable(ident);
  }
}
