package io.churnflow.peer;

import org.apache.avro.generic.GenericEnumSymbol;
import org.apache.avro.generic.GenericRecord;

/**
 * One decoded activity event of schemas/activity-event.avsc: the payload branch's record name gives
 * churnflow's event kind (Login → login, PlanChange → plan_change, …).
 */
public record ActivityEvent(String customerId, long eventTime, String kind, GenericRecord payload) {

  public static ActivityEvent of(GenericRecord record) {
    GenericRecord payload = (GenericRecord) record.get("payload");
    return new ActivityEvent(record.get("customer_id").toString(), (Long) record.get("event_time"), kindOf(payload.getSchema().getName()), payload);
  }

  static String kindOf(String branch) {
    return switch (branch) {
      case "Login" -> "login";
      case "Session" -> "session";
      case "Payment" -> "payment";
      case "PlanChange" -> "plan_change";
      case "SupportTicket" -> "support_ticket";
      case "Profile" -> "profile";
      default -> branch;
    };
  }

  /** An int or long field (0 when absent or null: such an event adds nothing to a sum). */
  long number(String field) {
    Object v = payload.getSchema().getField(field) == null ? null : payload.get(field);
    return v instanceof Number n ? n.longValue() : 0;
  }

  /** An enum or string field, as text (null when absent). */
  String text(String field) {
    Object v = payload.getSchema().getField(field) == null ? null : payload.get(field);
    return v instanceof GenericEnumSymbol<?> || v instanceof CharSequence ? v.toString() : null;
  }

  boolean flag(String field) {
    Object v = payload.getSchema().getField(field) == null ? null : payload.get(field);
    return Boolean.TRUE.equals(v);
  }
}
