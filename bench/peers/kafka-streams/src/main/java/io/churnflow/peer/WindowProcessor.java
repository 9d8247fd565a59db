package io.churnflow.peer;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Per event what churnflow's aggregation does: decode (registry wire format), drop it if it is behind
 * its partition's watermark (newest event time minus the allowed lateness), add it to the customer's
 * day bucket in the RocksDB store (changelogged), and compute the customer's window totals as of the
 * event (as churnflow computes the feature row of every event). Nothing is forwarded.
 */
public final class WindowProcessor implements Processor<String, byte[], Void, Void> {
  /** Records taken, late ones and undecodable ones, over all stream threads (the main thread reads them). */
  public static final AtomicLong PROCESSED = new AtomicLong();
  public static final AtomicLong LATE = new AtomicLong();
  public static final AtomicLong UNDECODABLE = new AtomicLong();
  /** Folded from every row's totals so the JIT cannot drop the computation nobody else reads. */
  public static final AtomicLong CHECKSUM = new AtomicLong();

  private final RegistryWireDecoder decoder;
  private final long allowedLatenessMs;
  private final int retentionDays;
  private final long[] add = new long[ActivityWindows.SLOTS];
  private final long[] totals = new long[ActivityWindows.FEATURES.size()];
  private KeyValueStore<String, byte[]> store;
  /** This task's event-time frontier (one task reads one partition of the activity topic). */
  private long frontier = Long.MIN_VALUE;
  private long checksum;

  public WindowProcessor(String registryUrl, long allowedLatenessMs) {
    this.decoder = new RegistryWireDecoder(registryUrl);
    this.allowedLatenessMs = allowedLatenessMs;
    this.retentionDays = ActivityWindows.retentionDays(allowedLatenessMs);
  }

  @Override
  public void init(ProcessorContext<Void, Void> context) {
    store = context.getStateStore(PeerMain.STORE);
  }

  @Override
  public void process(Record<String, byte[]> record) {
    try {
      ActivityEvent event;
      try {
        event = decoder.decode(record.value());
      } catch (IOException | RuntimeException e) {
        UNDECODABLE.incrementAndGet();
        return;
      }
      if (frontier != Long.MIN_VALUE && event.eventTime() < frontier - allowedLatenessMs) {
        LATE.incrementAndGet();
        return;
      }
      frontier = Math.max(frontier, event.eventTime());
      if (!ActivityWindows.contributions(event, add)) return;
      ActivityWindows.CustomerWindows windows = ActivityWindows.CustomerWindows.decode(store.get(event.customerId()));
      windows.apply(event.eventTime(), add, retentionDays);
      store.put(event.customerId(), windows.encode());
      windows.totals(event.eventTime() + 1, totals);
      for (long t : totals) checksum += t;
    } finally {
      PROCESSED.incrementAndGet();
    }
  }

  @Override
  public void close() {
    CHECKSUM.addAndGet(checksum);
  }
}
