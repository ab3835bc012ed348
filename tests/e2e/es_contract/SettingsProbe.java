import java.nio.file.Paths;
import java.util.Map;
import java.util.TreeMap;

import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.internal.InternalSettingsPreparer;

/**
 * Loads a node's settings the way Elasticsearch 2.3.4 does at start-up: config/elasticsearch.yml
 * under the given home, with ${VAR} placeholders taken from the environment. Prints every
 * setting as key=value, sorted; a placeholder that cannot be resolved fails with ES's message.
 */
public final class SettingsProbe {
    public static void main(String[] args) {
        Settings input = Settings.settingsBuilder().put("path.home", Paths.get(args[0]).toAbsolutePath().toString()).build();
        Environment env = InternalSettingsPreparer.prepareEnvironment(input, null);
        Map<String, String> sorted = new TreeMap<>(env.settings().getAsMap());
        for (Map.Entry<String, String> e : sorted.entrySet()) {
            System.out.println(e.getKey() + "=" + e.getValue());
        }
    }
}
