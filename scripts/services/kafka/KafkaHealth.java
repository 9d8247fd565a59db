import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;

/**
 * Readiness probe used by scripts/services/services.sh: succeeds (exit 0) when the
 * broker answers a metadata (DescribeCluster) request and reports a controller.
 * Usage: java -cp 'libs/*:.' KafkaHealth 127.0.0.1:19092 [timeoutMs]
 */
public final class KafkaHealth {
    public static void main(String[] args) throws Exception {
        String bootstrap = args.length > 0 ? args[0] : "127.0.0.1:19092";
        int timeoutMs = args.length > 1 ? Integer.parseInt(args[1]) : 5000;
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, timeoutMs);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, timeoutMs);
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 200);
        try (Admin admin = Admin.create(p)) {
            DescribeClusterResult r = admin.describeCluster();
            String clusterId = r.clusterId().get(timeoutMs, TimeUnit.MILLISECONDS);
            int nodes = r.nodes().get(timeoutMs, TimeUnit.MILLISECONDS).size();
            var controller = r.controller().get(timeoutMs, TimeUnit.MILLISECONDS);
            if (nodes < 1 || controller == null || controller.isEmpty()) {
                System.err.println("broker answered but has no live nodes/controller yet");
                System.exit(2);
            }
            System.out.println("cluster " + clusterId + ", " + nodes + " broker(s)");
        } catch (Exception e) {
            System.err.println("not ready: " + e);
            System.exit(1);
        }
    }
}
