/*
 * Starts an embedded Neo4j Community DBMS that serves Bolt on loopback only.
 *
 * Homeward does not ship a Neo4j server distribution: Maven copies the Community jars into
 * .neo4j/lib (see pom.xml) and this single-file program, run with `java Launcher.java`, builds
 * a DatabaseManagementService around a data folder. graph/runtime.py starts it, waits for Bolt
 * and stops it with SIGTERM, which runs the shutdown hook below so the store is closed cleanly.
 *
 * Usage: java -cp '.neo4j/lib/*' neo4j/Launcher.java --home DIR --port N [--pagecache 128m]
 *        [--tx-memory 256m]
 */
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;

public final class Launcher {
    private static final String HOST = "127.0.0.1";

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = parse(args);
        Path home = Path.of(required(opts, "home")).toAbsolutePath();
        int port = Integer.parseInt(required(opts, "port"));
        long pageCache = bytes(opts.getOrDefault("pagecache", "128m"));
        long txMemory = bytes(opts.getOrDefault("tx-memory", "256m"));

        // Fail early with a plain message instead of a Netty bind stack trace deep in startup.
        try (ServerSocket probe = new ServerSocket()) {
            probe.setReuseAddress(true);
            probe.bind(new InetSocketAddress(HOST, port));
        } catch (IOException e) {
            System.err.println("homeward-neo4j: port " + port + " on " + HOST
                    + " is already in use; stop whatever listens there or choose another port");
            System.exit(3);
        }

        Files.createDirectories(home);
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(HOST, port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                // Loopback-only development and test instance; deployments with credentials use
                // an external Neo4j through NEO4J_URI.
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                .setConfig(GraphDatabaseSettings.pagecache_memory, pageCache)
                .setConfig(GraphDatabaseSettings.memory_transaction_global_max_size, txMemory)
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "false")
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("homeward-neo4j: shutting down");
            dbms.shutdown();
            stopped.countDown();
        }, "homeward-neo4j-shutdown"));

        System.out.println("homeward-neo4j: bolt://" + HOST + ":" + port + " ready, home " + home);
        System.out.flush();
        stopped.await();
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> opts = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                usage("unexpected argument " + args[i]);
            }
            opts.put(args[i].substring(2), args[++i]);
        }
        return opts;
    }

    private static String required(Map<String, String> opts, String key) {
        String value = opts.get(key);
        if (value == null) {
            usage("missing --" + key);
        }
        return value;
    }

    private static long bytes(String size) {
        String s = size.trim().toLowerCase(Locale.ROOT);
        long unit = 1;
        char last = s.charAt(s.length() - 1);
        if (last == 'k' || last == 'm' || last == 'g') {
            unit = last == 'k' ? 1L << 10 : last == 'm' ? 1L << 20 : 1L << 30;
            s = s.substring(0, s.length() - 1);
        }
        return Long.parseLong(s) * unit;
    }

    private static void usage(String problem) {
        System.err.println("homeward-neo4j: " + problem);
        System.err.println("usage: Launcher --home DIR --port N [--pagecache 128m] [--tx-memory 256m]");
        System.exit(2);
    }
}
