//SOURCES Health.java JsonWriter.java Ledger.java Status.java

import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * fm-status --history: the cycle ledger read back as a table in local time, newest last. Each
 * cycle is a row (how it ended, killed ones with their last sign of life as their end), and each
 * stretch no cycle covered is a gap row between them, up to the one going on now.
 */
final class History {
    static final int DEFAULT_CYCLES = 20;
    private static final DateTimeFormatter LOCAL = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss");

    /** One line of the table; {@code end} is null for what is still going on; {@code how} as the ledger says. */
    record Row(boolean gap, long start, Long end, long pid, String via, String how) {
        long ms(long now) { return (end == null ? now : end) - start; }
    }

    private History() {}

    /** The rows from the last {@code n} cycles on, gaps between them included. */
    static List<Row> rows(Status.Facts f, int n) {
        List<Ledger.Cycle> cycles = new ArrayList<>(f.cycles());
        cycles.sort((a, b) -> Long.compare(a.started(), b.started()));
        List<Row> all = new ArrayList<>();
        List<Integer> cycleRows = new ArrayList<>();
        long reach = Long.MIN_VALUE;
        boolean running = false;
        for (Ledger.Cycle c : cycles) {
            if (!c.refused()) {
                if (reach != Long.MIN_VALUE && c.started() > reach) {
                    all.add(new Row(true, reach, c.started(), 0, null, "nothing supervised"));
                }
                reach = Math.max(reach, Math.max(c.started(), c.until()));
            }
            running |= c.how().equals("running");
            cycleRows.add(all.size());
            all.add(new Row(false, c.started(), c.how().equals("running") ? null : c.until(), c.pid(), c.via(), c.how()));
        }
        // A live watcher that writes no ledger (the bash one) covers the time since the last cycle.
        Health.State st = f.health().state();
        boolean liveNow = st == Health.State.HEALTHY || st == Health.State.SLOW || st == Health.State.WEDGED;
        if (reach != Long.MIN_VALUE && !running && !liveNow && f.now() > reach) {
            all.add(new Row(true, reach, null, 0, null, "unsupervised now"));
        }
        int from = cycleRows.isEmpty() ? 0 : cycleRows.get(Math.max(0, cycleRows.size() - n));
        return all.subList(from, all.size());
    }

    private static String ended(Row r) {
        if (r.gap()) return "gap: " + r.how();
        return switch (r.how()) {
            case "killed" -> "killed (no end recorded; end is its last sign of life)";
            case "refused" -> "refused (another watcher held the lock)";
            default -> r.how();
        };
    }

    /** The table, or one line saying why there is none. */
    static List<String> text(Status.Facts f, int n) {
        List<String> out = new ArrayList<>();
        String ledger = f.home().state.resolve(Ledger.NAME).toString();
        Ledger.Read read = f.ledger();
        if (read.problem() != null) {
            out.add("history: " + read.problem() + "; no history can be shown");
            return out;
        }
        if (f.cycles().isEmpty()) {
            out.add("history: no cycle recorded yet in " + ledger);
        } else {
            ZoneId zone = ZoneId.systemDefault();
            int total = f.cycles().size();
            out.add("history: the last " + Math.min(n, total) + " of " + total + " cycle(s) in " + ledger + ", times in " + zone);
            List<String[]> cells = new ArrayList<>();
            cells.add(new String[] {"start", "end", "ran", "pid", "via", "ended"});
            for (Row r : rows(f, n)) {
                cells.add(new String[] {local(r.start(), zone), r.end() == null ? "now" : local(r.end(), zone),
                        Status.human(r.ms(f.now())), r.gap() ? "-" : Long.toString(r.pid()), r.gap() ? "-" : r.via(), ended(r)});
            }
            int[] width = new int[6];
            for (String[] row : cells) for (int i = 0; i < 6; i++) width[i] = Math.max(width[i], row[i].length());
            for (String[] row : cells) {
                StringBuilder b = new StringBuilder();
                for (int i = 0; i < 6; i++) {
                    b.append(row[i]);
                    if (i < 5) b.append(" ".repeat(width[i] - row[i].length() + 2));
                }
                out.add(b.toString());
            }
        }
        if (read.unreadable() > 0) out.add("ledger: " + read.unreadable() + " unreadable line(s) skipped in " + ledger);
        return out;
    }

    static String json(Status.Facts f, int n) {
        ZoneId zone = ZoneId.systemDefault();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("ledger", f.home().state.resolve(Ledger.NAME).toString());
        m.put("zone", zone.toString());
        m.put("total", f.cycles().size());
        m.put("unreadableLines", f.ledger().unreadable());
        m.put("problem", f.ledger().problem());
        List<Map<String, Object>> rows = new ArrayList<>();
        for (Row r : rows(f, n)) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("kind", r.gap() ? "gap" : "cycle");
            row.put("start", offset(r.start(), zone));
            row.put("end", r.end() == null ? null : offset(r.end(), zone));
            row.put("seconds", r.ms(f.now()) / 1000);
            row.put("pid", r.gap() ? null : r.pid());
            row.put("via", r.gap() ? null : r.via());
            row.put("ended", r.how());
            rows.add(row);
        }
        m.put("rows", rows);
        return JsonWriter.write(m);
    }

    private static String local(long epochMs, ZoneId zone) {
        return LOCAL.format(Instant.ofEpochMilli(epochMs).atZone(zone));
    }

    private static String offset(long epochMs, ZoneId zone) {
        return Instant.ofEpochSecond(Math.floorDiv(epochMs, 1000)).atZone(zone).toOffsetDateTime().toString();
    }
}
