package lakehouse;

import org.apache.spark.sql.SparkSessionExtensions;
import scala.Function1;
import scala.runtime.BoxedUnit;

/**
 * The server's Spark session extensions ({@code spark.sql.extensions=lakehouse.LakehouseExtensions}):
 * point lookups on indexed tables answered from memory ({@link PointLookupRule}).
 */
public final class LakehouseExtensions implements Function1<SparkSessionExtensions, BoxedUnit> {
  @Override
  public BoxedUnit apply(SparkSessionExtensions extensions) {
    extensions.injectOptimizerRule(session -> new PointLookupRule());
    return BoxedUnit.UNIT;
  }
}
