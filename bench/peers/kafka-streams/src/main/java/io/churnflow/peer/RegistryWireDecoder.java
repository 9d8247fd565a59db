package io.churnflow.peer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;

/**
 * The Schema Registry wire format by hand (magic byte 0, 4-byte big-endian schema id, Avro binary),
 * with the writer schema fetched by id from the registry's Confluent-compatible API, as a real
 * consumer does; io.confluent's serdes are not on Maven Central. One instance per stream task (the
 * Avro decoder and record are reused); the schema cache is shared by all of them.
 */
public final class RegistryWireDecoder {
  private static final Map<Integer, GenericDatumReader<GenericRecord>> READERS = new ConcurrentHashMap<>();
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private static final ObjectMapper JSON = new ObjectMapper();

  private final String registryUrl;
  private BinaryDecoder decoder;
  private GenericRecord reuse;

  /** @param registryUrl the ccompat base, e.g. http://127.0.0.1:18081/apis/ccompat/v7 */
  public RegistryWireDecoder(String registryUrl) {
    this.registryUrl = registryUrl.replaceAll("/+$", "");
  }

  public ActivityEvent decode(byte[] value) throws IOException {
    if (value == null || value.length < 5 || value[0] != 0) {
      throw new IOException("not the registry wire format (magic byte 0, then a 4-byte schema id)");
    }
    int id = ((value[1] & 0xff) << 24) | ((value[2] & 0xff) << 16) | ((value[3] & 0xff) << 8) | (value[4] & 0xff);
    GenericDatumReader<GenericRecord> reader = READERS.computeIfAbsent(id, this::fetch);
    decoder = DecoderFactory.get().binaryDecoder(value, 5, value.length - 5, decoder);
    reuse = reader.read(reuse, decoder);
    return ActivityEvent.of(reuse);
  }

  private GenericDatumReader<GenericRecord> fetch(int id) {
    HttpRequest req = HttpRequest.newBuilder(URI.create(registryUrl + "/schemas/ids/" + id)).timeout(Duration.ofSeconds(10)).GET().build();
    try {
      HttpResponse<String> res = HTTP.send(req, HttpResponse.BodyHandlers.ofString());
      if (res.statusCode() != 200) throw new IOException("registry " + req.uri() + " answered " + res.statusCode() + ": " + res.body());
      JsonNode body = JSON.readTree(res.body());
      Schema writer = new Schema.Parser().parse(body.get("schema").asText());
      return new GenericDatumReader<>(writer);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted fetching schema " + id, e);
    }
  }
}
