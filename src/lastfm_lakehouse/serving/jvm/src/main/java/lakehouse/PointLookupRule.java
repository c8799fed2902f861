package lakehouse;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.And;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.AttributeReference;
import org.apache.spark.sql.catalyst.expressions.EqualNullSafe;
import org.apache.spark.sql.catalyst.expressions.EqualTo;
import org.apache.spark.sql.catalyst.expressions.ExprId;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.In;
import org.apache.spark.sql.catalyst.expressions.InSet;
import org.apache.spark.sql.catalyst.expressions.InterpretedOrdering;
import org.apache.spark.sql.catalyst.expressions.Literal;
import org.apache.spark.sql.catalyst.expressions.NamedExpression;
import org.apache.spark.sql.catalyst.optimizer.ConvertToLocalRelation$;
import org.apache.spark.sql.catalyst.plans.logical.Filter;
import org.apache.spark.sql.catalyst.plans.logical.LocalRelation;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.Project;
import org.apache.spark.sql.catalyst.plans.logical.Sort;
import org.apache.spark.sql.catalyst.rules.Rule;
import org.apache.spark.sql.execution.datasources.LogicalRelation;
import org.apache.spark.sql.types.DataType;
import scala.Option;
import scala.collection.immutable.Seq;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Answers a point lookup on an indexed table ({@link LookupIndex}) from the index: a filter that
 * pins the key column to literals ({@code key = 'x'}, {@code key in ('x', 'y')}) over such a
 * table becomes that filter over the key's rows, held locally. The query keeps every other
 * operator; projections, filters, sorts and limits over those few rows are then evaluated while
 * planning (Spark's {@code ConvertToLocalRelation}, and a sort here), so a BI tool's
 * {@code where user_sha1 = '…' order by rank limit 10} runs no Spark job at all.
 *
 * <p>Exact by construction: every row the filter keeps has its key among the literals, so it is
 * among the rows substituted, and the whole original condition is still applied to them. A
 * relation whose version (location, and Delta version) or schema is not the index's is left alone.
 */
public final class PointLookupRule extends Rule<LogicalPlan> {
  /** More keys than this in one filter: read the table as usual. */
  private static final int MAX_KEYS = 1024;
  /** More rows than this under one sort: leave the sort to Spark. */
  private static final int MAX_SORTED_ROWS = 100_000;

  @Override
  public LogicalPlan apply(LogicalPlan plan) {
    return LookupIndex.isEmpty() ? plan : rewrite(plan);
  }

  private static <T> Seq<T> seq(List<T> items) {
    return CollectionConverters.asScala(items).toSeq();
  }

  private static LogicalPlan rewrite(LogicalPlan plan) {
    if (plan instanceof Filter filter) {
      LogicalPlan answered = fromIndex(filter);
      if (answered != null) {
        return fold(answered);
      }
    }
    LogicalPlan next = mapChildren(plan, PointLookupRule::rewrite);
    return next == plan ? plan : fold(next);
  }

  /** The plan with {@code step} applied to each child; the same object when no child changed. */
  private static LogicalPlan mapChildren(LogicalPlan plan, UnaryOperator<LogicalPlan> step) {
    List<LogicalPlan> children = CollectionConverters.asJava(plan.children());
    List<LogicalPlan> mapped = new ArrayList<>(children.size());
    boolean changed = false;
    for (LogicalPlan child : children) {
      LogicalPlan next = step.apply(child);
      changed |= next != child;
      mapped.add(next);
    }
    return changed ? plan.withNewChildren(seq(mapped)) : plan;
  }

  /** Key literals per attribute, from the condition's conjuncts; values of other types ignored. */
  private static void pinned(Expression condition, Map<ExprId, Set<Object>> keys) {
    if (condition instanceof And and) {
      pinned(and.left(), keys);
      pinned(and.right(), keys);
      return;
    }
    AttributeReference attribute = null;
    List<Object> values = new ArrayList<>();
    boolean literalsOnly = true;
    if (condition instanceof EqualTo || condition instanceof EqualNullSafe) {
      Expression left = condition.children().apply(0);
      Expression right = condition.children().apply(1);
      if (left instanceof AttributeReference a && right instanceof Literal l) {
        attribute = a;
        values.add(sameType(l, a.dataType()) ? l.value() : null);
      } else if (right instanceof AttributeReference a && left instanceof Literal l) {
        attribute = a;
        values.add(sameType(l, a.dataType()) ? l.value() : null);
      }
    } else if (condition instanceof In in && in.value() instanceof AttributeReference a) {
      attribute = a;
      for (Expression item : CollectionConverters.asJava(in.list())) {
        if (item instanceof Literal l && sameType(l, a.dataType())) {
          values.add(l.value());
        } else {
          literalsOnly = false;
        }
      }
    } else if (condition instanceof InSet inSet
        && inSet.child() instanceof AttributeReference a
        && LookupIndex.supported(a.dataType())) {
      attribute = a;
      values.addAll(CollectionConverters.asJava(inSet.hset()));
    }
    if (attribute == null || !literalsOnly || values.contains(null)) {
      return;
    }
    Set<Object> known = keys.get(attribute.exprId());
    if (known == null) {
      keys.put(attribute.exprId(), new LinkedHashSet<>(values));
    } else {
      known.retainAll(values); // two conjuncts on one key: rows must match both
    }
  }

  private static boolean sameType(Literal literal, DataType type) {
    return literal.value() != null && literal.dataType().equals(type) && LookupIndex.supported(type);
  }

  /** The filter over the key's rows, or null when the filter or its input does not qualify. */
  private static LogicalPlan fromIndex(Filter filter) {
    // Between the filter and the table only projections of plain columns (column pruning's).
    List<Project> projections = new ArrayList<>();
    LogicalPlan input = filter.child();
    while (input instanceof Project project && plainColumns(project)) {
      projections.add(project);
      input = project.child();
    }
    if (!(input instanceof LogicalRelation relation)) {
      return null;
    }
    LookupIndex index = LookupIndex.of(relation);
    if (index == null) {
      return null;
    }
    Map<ExprId, Set<Object>> keys = new HashMap<>();
    pinned(filter.condition(), keys);
    Set<Object> values = keys.get(relation.output().apply(index.keyOrdinal).exprId());
    if (values == null || values.size() > MAX_KEYS) {
      return null;
    }
    @SuppressWarnings("unchecked")
    Seq<Attribute> output = (Seq<Attribute>) (Seq<?>) relation.output();
    LogicalPlan local = new LocalRelation(output, seq(index.rows(values)), false, Option.empty());
    for (int i = projections.size() - 1; i >= 0; i--) {
      local = projections.get(i).withNewChildren(seq(List.of(local)));
    }
    return filter.withNewChildren(seq(List.of(local)));
  }

  private static boolean plainColumns(Project project) {
    for (NamedExpression column : CollectionConverters.asJava(project.projectList())) {
      if (!(column instanceof AttributeReference)) {
        return false;
      }
    }
    return true;
  }

  /** Evaluates what it can over local rows: projections, filters and limits (Spark's rule), sorts. */
  private static LogicalPlan fold(LogicalPlan plan) {
    for (int round = 0; round < 8; round++) {
      LogicalPlan next = sortLocally(ConvertToLocalRelation$.MODULE$.apply(plan));
      if (next == plan) {
        return next;
      }
      plan = next;
    }
    return plan;
  }

  private static LogicalPlan sortLocally(LogicalPlan plan) {
    plan = mapChildren(plan, PointLookupRule::sortLocally);
    if (!(plan instanceof Sort sort) || !(sort.child() instanceof LocalRelation local)) {
      return plan;
    }
    if (local.data().size() > MAX_SORTED_ROWS || local.isStreaming()) {
      return plan;
    }
    InternalRow[] rows = CollectionConverters.asJava(local.data()).toArray(new InternalRow[0]);
    try {
      Arrays.sort(rows, new InterpretedOrdering(sort.order(), local.output()));
    } catch (RuntimeException unevaluable) { // an order Spark must evaluate itself: leave it
      return plan;
    }
    return new LocalRelation(local.output(), seq(Arrays.asList(rows)), false, Option.empty());
  }
}
