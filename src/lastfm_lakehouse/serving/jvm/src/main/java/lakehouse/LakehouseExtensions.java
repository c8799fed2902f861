package lakehouse;

import org.apache.spark.sql.SparkSessionExtensions;
import scala.Function1;
import scala.runtime.BoxedUnit;

/**
 * The server's Spark session extensions ({@code spark.sql.extensions=lakehouse.LakehouseExtensions}):
 * point lookups on indexed tables answered from memory ({@link PointLookupRule}), and the roles
 * of the server's users, checked on every analysed statement ({@link Authorization}; inactive
 * until the server calls {@code Authorization.enforce}).
 */
public final class LakehouseExtensions implements Function1<SparkSessionExtensions, BoxedUnit> {
  @Override
  public BoxedUnit apply(SparkSessionExtensions extensions) {
    extensions.injectOptimizerRule(session -> new PointLookupRule());
    extensions.injectCheckRule(Authorization::rule);
    return BoxedUnit.UNIT;
  }
}
