package app;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * slimtrace fixture: an HTTP server on the JDK's com.sun.net.httpserver.
 *
 * <p>Routes: {@code /} (HTML), {@code /api/report} (JSON from {@link Report}, a class the JVM
 * loads from /app/classes/app/Report.class only when this route first runs) and {@code /healthz}.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "8080"));
        HttpServer server = HttpServer.create(new InetSocketAddress("0.0.0.0", port), 0);
        server.createContext("/", Main::index);
        server.createContext("/api/report", ex -> {
            log(ex);
            // The first call loads Report.class: a tracer sees that file read only
            // when this route is requested.
            send(ex, 200, "application/json", Report.json());
        });
        server.createContext("/healthz", ex -> {
            log(ex);
            send(ex, 200, "text/plain", "ok\n");
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> server.stop(0)));
        server.start();
        System.out.println("java-app listening on " + port);
    }

    private static void index(HttpExchange ex) throws IOException {
        log(ex);
        if (!ex.getRequestURI().getPath().equals("/")) {
            send(ex, 404, "text/plain", "not found\n");
            return;
        }
        send(ex, 200, "text/html; charset=utf-8", "<!doctype html>\n<html>\n"
                + "<head><meta charset=\"utf-8\"><title>slimtrace fixture: java-app</title></head>\n"
                + "<body>\n<h1>java-app</h1>\n"
                + "<p>A slimtrace test fixture: com.sun.net.httpserver on Java "
                + System.getProperty("java.version") + ".</p>\n"
                + "<p><a href=\"/api/report\">report</a></p>\n</body>\n</html>\n");
    }

    private static void log(HttpExchange ex) {
        System.out.println(ex.getRequestMethod() + " " + ex.getRequestURI());
    }

    private static void send(HttpExchange ex, int status, String type, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }
}
