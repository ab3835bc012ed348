package local.escluster.discovery;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import org.elasticsearch.Version;
import org.elasticsearch.cluster.node.DiscoveryNode;
import org.elasticsearch.common.component.AbstractComponent;
import org.elasticsearch.common.inject.Inject;
import org.elasticsearch.common.network.NetworkAddress;
import org.elasticsearch.common.network.NetworkService;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.transport.InetSocketTransportAddress;
import org.elasticsearch.discovery.zen.ping.unicast.UnicastHostsProvider;

/**
 * The fabric8 plugin's contract: on every ping round, read the v1 Endpoints of
 * {@code cloud.kubernetes.service} in {@code cloud.kubernetes.namespace}; every address but this
 * node's own, times every port, is a unicast target, named by its address alone
 * ({@code #k8s-<ip>-0}). Zen keeps one target per name, the first: where the Service also exposes
 * 9200 and the Endpoints list it first, zen dials 9200 only and the cluster cannot form, which
 * is why the transport Service must carry 9300 alone.
 */
public class K8sUnicastHostsProvider extends AbstractComponent implements UnicastHostsProvider {
    static final String SERVICE = "cloud.kubernetes.service";
    static final String NAMESPACE = "cloud.kubernetes.namespace";

    private final Version version;
    private final NetworkService network;
    private final ApiServerClient client;

    @Inject
    public K8sUnicastHostsProvider(Settings settings, Version version, NetworkService network) {
        super(settings);
        this.version = version;
        this.network = network;
        this.client = new ApiServerClient(settings, logger);
    }

    @Override
    public List<DiscoveryNode> buildDynamicNodes() {
        String service = settings.get(SERVICE);
        String namespace = settings.get(NAMESPACE, "default");
        if (service == null || service.isEmpty()) {
            logger.error("k8s-discovery: [{}] is not set, no unicast targets", SERVICE);
            return Collections.emptyList();
        }
        Map<String, Object> endpoints;
        try {
            endpoints = client.get("/api/v1/namespaces/" + namespace + "/endpoints/" + service);
        } catch (Exception e) {
            logger.warn("k8s-discovery: cannot read endpoints {}/{}: {}", namespace, service, e.toString());
            return Collections.emptyList();
        }
        String self = publishAddress();
        List<DiscoveryNode> nodes = new ArrayList<>();
        List<String> targets = new ArrayList<>();
        for (Map<String, Object> subset : maps(endpoints.get("subsets"))) {
            for (Map<String, Object> address : maps(subset.get("addresses"))) {
                String ip = String.valueOf(address.get("ip"));
                if (ip.equals(self)) {
                    continue;  // this node
                }
                for (Map<String, Object> port : maps(subset.get("ports"))) {
                    int number = ((Number) port.get("port")).intValue();
                    try {
                        InetSocketTransportAddress target = new InetSocketTransportAddress(InetAddress.getByName(ip), number);
                        // One name per address, whatever the port: zen pings the first of each.
                        nodes.add(new DiscoveryNode("#k8s-" + ip + "-0", target, version.minimumCompatibilityVersion()));
                        targets.add(ip + ":" + number);
                    } catch (Exception e) {
                        logger.warn("k8s-discovery: skipping endpoint {}:{}: {}", ip, number, e.toString());
                    }
                }
            }
        }
        logger.info("k8s-discovery: endpoints {}/{} via {}: targets {}", namespace, service, client.describe(), targets);
        return nodes;
    }

    /** This node's publish address, to leave out of its own targets; null if it cannot be told. */
    private String publishAddress() {
        try {
            InetAddress address = network.resolvePublishHostAddresses(null);
            return address == null ? null : NetworkAddress.format(address);
        } catch (Exception e) {
            return null;
        }
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> maps(Object value) {
        if (!(value instanceof List)) {
            return Collections.emptyList();
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (Object item : (List<Object>) value) {
            if (item instanceof Map) {
                out.add((Map<String, Object>) item);
            }
        }
        return out;
    }
}
