package io.churnflow.peer;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * Runs the peer from a fresh application id (consumer group) until it is caught up on the activity
 * topic, then prints one JSON line of figures and, if asked, writes every customer's window totals
 * as of its newest event to a file (the bench compares a sample with churnflow's own feature code).
 *
 * <p>Flags: --bootstrap, --registry (ccompat base URL), --topic, --app-id, --expect (records on the
 * topic), --guarantee at_least_once|exactly_once_v2, --threads, --state-dir, --commit-interval-ms,
 * --allowed-lateness-ms, --dump (file), --timeout-ms.
 */
public final class PeerMain {
  static final String STORE = "customer-windows";

  public static void main(String[] argv) throws Exception {
    Map<String, String> args = parse(argv);
    String topic = required(args, "topic");
    String appId = required(args, "app-id");
    String bootstrap = required(args, "bootstrap");
    String registry = required(args, "registry");
    long expect = Long.parseLong(required(args, "expect"));
    long lateness = Long.parseLong(args.getOrDefault("allowed-lateness-ms", "3600000"));
    long timeoutMs = Long.parseLong(args.getOrDefault("timeout-ms", "1800000"));

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, args.getOrDefault("guarantee", StreamsConfig.AT_LEAST_ONCE));
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, args.getOrDefault("threads", "2"));
    props.put(StreamsConfig.STATE_DIR_CONFIG, required(args, "state-dir"));
    // "Caught up" is lag 0 (committed offsets at the end); exactly-once commits every 100 ms by default,
    // at-least-once every 30 s, which would make the figure the commit interval, so both use the same.
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, args.getOrDefault("commit-interval-ms", "100"));
    props.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");

    StreamsBuilder builder = new StreamsBuilder();
    builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(STORE), Serdes.String(), Serdes.ByteArray()).withLoggingEnabled(Map.of()));
    builder.stream(topic, Consumed.with(Serdes.String(), Serdes.ByteArray())).process(() -> new WindowProcessor(registry, lateness), STORE);

    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      Map<TopicPartition, Long> ends = endOffsets(admin, topic);
      KafkaStreams streams = new KafkaStreams(builder.build(), props);
      streams.setUncaughtExceptionHandler(e -> {
        System.err.println("peer: stream thread failed: " + e);
        return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
      });
      long t0 = System.nanoTime();
      streams.start();
      long processedNs = 0;
      long caughtUpNs = 0;
      while (caughtUpNs == 0) {
        if (System.nanoTime() - t0 > timeoutMs * 1_000_000L) fail("not caught up after " + timeoutMs + " ms (" + WindowProcessor.PROCESSED.get() + "/" + expect + " records)");
        if (streams.state() == KafkaStreams.State.ERROR || streams.state() == KafkaStreams.State.NOT_RUNNING) fail("Kafka Streams stopped: " + streams.state());
        Thread.sleep(20);
        if (processedNs == 0 && WindowProcessor.PROCESSED.get() >= expect) processedNs = System.nanoTime() - t0;
        if (processedNs != 0 && caughtUp(admin, appId, ends)) caughtUpNs = System.nanoTime() - t0;
      }
      int customers = args.containsKey("dump") ? dump(streams, Path.of(args.get("dump"))) : -1;
      streams.close(Duration.ofSeconds(30));
      streams.cleanUp();
      System.out.printf("{\"processed\":%d,\"late\":%d,\"undecodable\":%d,\"processed_ms\":%.1f,\"caught_up_ms\":%.1f,\"customers_dumped\":%d,\"checksum\":%d}%n",
          WindowProcessor.PROCESSED.get(), WindowProcessor.LATE.get(), WindowProcessor.UNDECODABLE.get(), processedNs / 1e6, caughtUpNs / 1e6, customers, WindowProcessor.CHECKSUM.get());
    }
    System.exit(0);
  }

  private static Map<TopicPartition, Long> endOffsets(Admin admin, String topic) throws ExecutionException, InterruptedException {
    int partitions = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
    Map<TopicPartition, OffsetSpec> specs = new HashMap<>();
    for (int p = 0; p < partitions; p++) specs.put(new TopicPartition(topic, p), OffsetSpec.latest());
    return admin.listOffsets(specs).all().get().entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
  }

  /** Lag 0: the group's committed offset of every partition is at its end. */
  private static boolean caughtUp(Admin admin, String group, Map<TopicPartition, Long> ends) throws ExecutionException, InterruptedException {
    Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
    for (Map.Entry<TopicPartition, Long> end : ends.entrySet()) {
      OffsetAndMetadata c = committed.get(end.getKey());
      if (end.getValue() > 0 && (c == null || c.offset() < end.getValue())) return false;
    }
    return true;
  }

  /** Every customer's totals as of just after its newest event, one JSON object a line. */
  private static int dump(KafkaStreams streams, Path file) throws IOException, InterruptedException {
    ReadOnlyKeyValueStore<String, byte[]> store = null;
    for (int attempt = 0; store == null; attempt++) {
      try {
        store = streams.store(StoreQueryParameters.fromNameAndType(STORE, QueryableStoreTypes.keyValueStore()));
      } catch (org.apache.kafka.streams.errors.InvalidStateStoreException e) {
        if (attempt > 100) throw e;
        Thread.sleep(100);
      }
    }
    long[] totals = new long[ActivityWindows.FEATURES.size()];
    int n = 0;
    try (BufferedWriter out = Files.newBufferedWriter(file); KeyValueIterator<String, byte[]> it = store.all()) {
      while (it.hasNext()) {
        KeyValue<String, byte[]> kv = it.next();
        ActivityWindows.CustomerWindows w = ActivityWindows.CustomerWindows.decode(kv.value);
        long asOf = w.maxEventTime() + 1;
        w.totals(asOf, totals);
        StringBuilder line = new StringBuilder("{\"customer_id\":\"").append(kv.key.replace("\\", "\\\\").replace("\"", "\\\"")).append("\",\"as_of\":").append(asOf).append(",\"features\":{");
        for (int f = 0; f < totals.length; f++) {
          if (f > 0) line.append(',');
          line.append('"').append(ActivityWindows.FEATURES.get(f).name()).append("\":").append(totals[f]);
        }
        out.write(line.append("}}\n").toString());
        n++;
      }
    }
    return n;
  }

  private static Map<String, String> parse(String[] argv) {
    Map<String, String> args = new HashMap<>();
    for (int i = 0; i < argv.length; i++) {
      if (!argv[i].startsWith("--") || i + 1 >= argv.length) fail("usage: --name value … (got '" + argv[i] + "')");
      args.put(argv[i].substring(2), argv[++i]);
    }
    return args;
  }

  private static String required(Map<String, String> args, String name) {
    String v = args.get(name);
    if (v == null) fail("missing --" + name);
    return v;
  }

  private static void fail(String message) {
    System.err.println("peer: " + message);
    System.exit(2);
  }
}
