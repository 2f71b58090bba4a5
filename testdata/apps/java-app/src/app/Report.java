package app;

import java.util.LinkedHashMap;
import java.util.Map;

/** Loaded lazily: only GET /api/report reaches this class. */
final class Report {
    private Report() {}

    static String json() {
        Map<String, Integer> stock = new LinkedHashMap<>();
        stock.put("tea", 3);
        stock.put("coffee", 5);
        stock.put("cocoa", 2);
        StringBuilder b = new StringBuilder("{\"report\":\"stock\",\"items\":{");
        int total = 0;
        String sep = "";
        for (Map.Entry<String, Integer> e : stock.entrySet()) {
            b.append(sep).append('"').append(e.getKey()).append("\":").append(e.getValue());
            total += e.getValue();
            sep = ",";
        }
        return b.append("},\"total\":").append(total).append("}\n").toString();
    }
}
