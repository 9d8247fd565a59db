package io.churnflow.peer;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;

/**
 * The count and sum window features of churnflow's default spec (src/features/default-churn-spec.ts),
 * kept the way churnflow keeps them: per customer, one bucket per UTC day of event time, each holding
 * the slot totals of that day; buckets more than the retention before the customer's newest event are
 * dropped. A window of W days as of t sums the buckets that start in [t - W days, t), as
 * src/features/window-totals.ts does. Pure: no Kafka here.
 */
public final class ActivityWindows {
  public static final long DAY_MS = 86_400_000L;

  // The slots: what one event adds to its day's bucket (churnflow shares one slot between the windows of a feature).
  static final int LOGINS = 0, SESSIONS = 1, WATCH_SECONDS = 2, PAYMENT_FAILURES = 3, DOWNGRADES = 4, UPGRADES = 5,
      SPEND_CENTS = 6, DISCOUNT_CENTS = 7, TICKETS = 8, COMPLAINTS = 9;
  public static final int SLOTS = 10;

  /** One window feature: its name in churnflow's spec, the slot it sums and the window length. */
  public record Feature(String name, int slot, int windowDays) {}

  /** Every count and sum window feature of the default spec (distinct counts and means are left out). */
  public static final List<Feature> FEATURES = List.of(
      new Feature("logins_7d", LOGINS, 7), new Feature("logins_30d", LOGINS, 30), new Feature("logins_90d", LOGINS, 90),
      new Feature("sessions_7d", SESSIONS, 7), new Feature("sessions_30d", SESSIONS, 30), new Feature("sessions_90d", SESSIONS, 90),
      new Feature("watch_seconds_7d", WATCH_SECONDS, 7), new Feature("watch_seconds_30d", WATCH_SECONDS, 30), new Feature("watch_seconds_90d", WATCH_SECONDS, 90),
      new Feature("payment_failures_30d", PAYMENT_FAILURES, 30), new Feature("payment_failures_90d", PAYMENT_FAILURES, 90),
      new Feature("downgrades_90d", DOWNGRADES, 90), new Feature("upgrades_90d", UPGRADES, 90),
      new Feature("spend_cents_90d", SPEND_CENTS, 90), new Feature("discount_cents_90d", DISCOUNT_CENTS, 90),
      new Feature("tickets_30d", TICKETS, 30), new Feature("complaints_90d", COMPLAINTS, 90));

  private static final int MAX_WINDOW_DAYS = 90;

  private ActivityWindows() {}

  /** Days of buckets kept behind the newest event: the longest window, one day, and the allowed lateness (compile-spec.ts). */
  public static int retentionDays(long allowedLatenessMs) {
    return MAX_WINDOW_DAYS + 1 + (int) Math.ceil((double) allowedLatenessMs / DAY_MS);
  }

  /**
   * What an event adds to each slot (into {@code out}, cleared first); returns false when it adds
   * nothing. Counts add one per matching event; sums add the field when it is a number.
   */
  public static boolean contributions(ActivityEvent e, long[] out) {
    Arrays.fill(out, 0);
    switch (e.kind()) {
      case "login" -> out[LOGINS] = 1;
      case "session" -> {
        out[SESSIONS] = 1;
        out[WATCH_SECONDS] = e.number("duration_seconds");
      }
      case "payment" -> {
        String status = e.text("status");
        if ("FAILED".equals(status)) out[PAYMENT_FAILURES] = 1;
        if ("SUCCEEDED".equals(status)) out[SPEND_CENTS] = e.number("amount_cents");
        out[DISCOUNT_CENTS] = e.number("discount_cents");
      }
      case "plan_change" -> {
        String change = e.text("change");
        if ("DOWNGRADE".equals(change)) out[DOWNGRADES] = 1;
        if ("UPGRADE".equals(change)) out[UPGRADES] = 1;
      }
      case "support_ticket" -> {
        out[TICKETS] = 1;
        if (e.flag("is_complaint")) out[COMPLAINTS] = 1;
      }
      default -> {
        return false;
      }
    }
    return true;
  }

  /** One customer's day buckets (sorted by day) and newest event time; serialized into the state store. */
  public static final class CustomerWindows {
    long maxEventTime;
    int size;
    int[] days = new int[8];
    long[][] values = new long[8][];

    /** Adds an event's contributions to its day, then drops the buckets that fell out of retention. */
    public void apply(long eventTime, long[] add, int retentionDays) {
      int day = (int) Math.floorDiv(eventTime, DAY_MS);
      int at = Arrays.binarySearch(days, 0, size, day);
      if (at < 0) {
        at = -at - 1;
        if (size == days.length) {
          days = Arrays.copyOf(days, size * 2);
          values = Arrays.copyOf(values, size * 2);
        }
        System.arraycopy(days, at, days, at + 1, size - at);
        System.arraycopy(values, at, values, at + 1, size - at);
        days[at] = day;
        values[at] = new long[SLOTS];
        size++;
      }
      long[] bucket = values[at];
      for (int s = 0; s < SLOTS; s++) bucket[s] += add[s];
      if (eventTime > maxEventTime) maxEventTime = eventTime;
      int oldestKept = (int) Math.floorDiv(maxEventTime, DAY_MS) - retentionDays;
      int drop = 0;
      while (drop < size && days[drop] < oldestKept) drop++;
      if (drop > 0) {
        System.arraycopy(days, drop, days, 0, size - drop);
        System.arraycopy(values, drop, values, 0, size - drop);
        size -= drop;
      }
    }

    /** Every feature of {@link #FEATURES} as of {@code asOf} (buckets that start before it), into {@code out}. */
    public void totals(long asOf, long[] out) {
      Arrays.fill(out, 0);
      long lastDay = (long) Math.ceil((double) asOf / DAY_MS) - 1;
      for (int b = 0; b < size; b++) {
        if (days[b] > lastDay) continue;
        long startsAt = days[b] * DAY_MS;
        long[] bucket = values[b];
        for (int f = 0; f < FEATURES.size(); f++) {
          Feature feature = FEATURES.get(f);
          if (startsAt >= asOf - feature.windowDays() * DAY_MS) out[f] += bucket[feature.slot()];
        }
      }
    }

    public long maxEventTime() {
      return maxEventTime;
    }

    /** Layout: newest event time, bucket count, then per bucket its day, a mask of non-zero slots and those slots. */
    public byte[] encode() {
      int bytes = 12;
      for (int b = 0; b < size; b++) {
        bytes += 6;
        for (long v : values[b]) if (v != 0) bytes += 8;
      }
      ByteBuffer buf = ByteBuffer.allocate(bytes);
      buf.putLong(maxEventTime).putInt(size);
      for (int b = 0; b < size; b++) {
        long[] bucket = values[b];
        short mask = 0;
        for (int s = 0; s < SLOTS; s++) if (bucket[s] != 0) mask |= (short) (1 << s);
        buf.putInt(days[b]).putShort(mask);
        for (int s = 0; s < SLOTS; s++) if (bucket[s] != 0) buf.putLong(bucket[s]);
      }
      return buf.array();
    }

    public static CustomerWindows decode(byte[] stored) {
      CustomerWindows w = new CustomerWindows();
      if (stored == null) return w;
      ByteBuffer buf = ByteBuffer.wrap(stored);
      w.maxEventTime = buf.getLong();
      w.size = buf.getInt();
      w.days = new int[Math.max(8, w.size + 1)];
      w.values = new long[w.days.length][];
      for (int b = 0; b < w.size; b++) {
        w.days[b] = buf.getInt();
        short mask = buf.getShort();
        long[] bucket = new long[SLOTS];
        for (int s = 0; s < SLOTS; s++) if ((mask & (1 << s)) != 0) bucket[s] = buf.getLong();
        w.values[b] = bucket;
      }
      return w;
    }
  }
}
