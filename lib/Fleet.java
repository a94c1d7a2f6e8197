//SOURCES Advice.java FmHome.java JsonWriter.java Knobs.java ShellWord.java StateFiles.java Status.java

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * fm-status --fleet: this home's verdict and that of every secondmate home it registers in
 * {@code data/secondmates.md}, one line each ({@code <id> <home> <verdict> - <sentence>}, this
 * home's id being {@code self}), then the next step of the worst, whose exit is the fleet's.
 * Each home is looked at as fm-status looks at it (read-only), with this environment's knobs
 * minus those that describe only this home (its state directory, advice overrides, bash watcher).
 * A registry line that cannot be read, a home that is missing or is no firstmate home is a line
 * of its own with a verdict of its own (UNREADABLE, MISSING, NOT-A-HOME): never a crash.
 */
final class Fleet {
    static final String REGISTRY = "data/secondmates.md";
    /** {@code - <id> - <summary> (home: <absolute path>; scope: ...; projects: ...; added <date>)} */
    private static final Pattern ENTRY = Pattern.compile("- (\\S+) - .*\\(home: (/[^;)]*?)\\s*(;.*)?\\)\\s*");
    /** Knobs that describe one home only, never carried over to another. */
    private static final List<String> THIS_HOME_ONLY = List.of("FM_HOME", "FM_ROOT_OVERRIDE", "FM_STATE_OVERRIDE",
            "FM_ARM_COMMAND", "FM_DRAIN_COMMAND", "FM_BASH_WATCHER");

    /** One line of the fleet: a home looked at (facts and judgement), or why it could not be. */
    record Member(String id, String home, String verdict, String sentence, int exit, String next, int rank,
                  Status.Facts facts, Status.Judgement judgement) {}

    private final Path registry;
    private final boolean registryExists;
    private final int registered;
    private final List<Member> members;

    private Fleet(Path registry, boolean registryExists, int registered, List<Member> members) {
        this.registry = registry;
        this.registryExists = registryExists;
        this.registered = registered;
        this.members = members;
    }

    static Fleet look(Status.Facts self, Map<String, String> env) {
        List<Member> members = new ArrayList<>();
        members.add(member("self", self.home() == null ? "?" : self.home().home.toString(), self));
        Path registry = self.home() == null ? Path.of(REGISTRY) : self.home().home.resolve(REGISTRY);
        if (self.home() == null) return new Fleet(registry, false, 0, members);
        Path checkout = self.home().watcherPath.getParent();
        List<String> lines;
        try {
            if (!Files.isRegularFile(registry)) throw new NoSuchFileException(registry.toString());
            lines = Files.readAllLines(registry, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return new Fleet(registry, false, 0, members);
        } catch (IOException | RuntimeException e) {
            String why = e instanceof IOException io ? StateFiles.reason(io) : "not UTF-8 text";
            members.add(problem("?", registry.toString(), "UNREADABLE", "the registry cannot be read (" + why + ")",
                    "ls -l " + ShellWord.of(registry) + "  # make it readable, then run the fleet view again"));
            return new Fleet(registry, true, 0, members);
        }
        int registered = 0;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).replaceAll("\r$", "");
            if (!line.startsWith("- ")) continue; // headings, prose, blank lines
            registered++;
            Matcher m = ENTRY.matcher(line);
            if (!m.matches()) {
                String where = registry + ":" + (i + 1);
                String shown = line.length() > 80 ? line.substring(0, 80) + "..." : line;
                members.add(problem("?", where, "UNREADABLE", "not a registry line of the form '- <id> - <summary> (home: <absolute"
                        + " path>; ...)': " + shown.replaceAll("\\p{Cntrl}", "?"),
                        "sed -n " + (i + 1) + "p " + ShellWord.of(registry) + "  # fix or remove that line of the registry"));
                continue;
            }
            members.add(registeredHome(m.group(1), Path.of(m.group(2)).normalize(), checkout, env, registry, i + 1));
        }
        return new Fleet(registry, true, registered, members);
    }

    private static Member registeredHome(String id, Path home, Path checkout, Map<String, String> env, Path registry, int line) {
        String fix = "sed -n " + line + "p " + ShellWord.of(registry);
        if (!Files.exists(home)) {
            return problem(id, home.toString(), "MISSING", "no such directory; the registry (line " + line + ") still names it",
                    fix + "  # the home is gone: fix its path or remove the line");
        }
        if (!Files.isDirectory(home)) {
            return problem(id, home.toString(), "NOT-A-HOME", "not a directory", fix + "  # fix its path or remove the line");
        }
        if (!Files.isDirectory(home.resolve("state"), LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(home.resolve("data"))
                && !Files.isRegularFile(home.resolve("bin/fm-watch.sh"))) {
            return problem(id, home.toString(), "NOT-A-HOME", "no state/, data/ or bin/fm-watch.sh: not a firstmate home",
                    fix + "  # fix its path or remove the line");
        }
        Map<String, String> its = new HashMap<>(env);
        THIS_HOME_ONLY.forEach(its::remove);
        its.put("FM_HOME", home.toString());
        Path real = home;
        try {
            real = home.toRealPath();
        } catch (IOException e) {
            // as registered
        }
        FmHome fm = FmHome.of(real, real.resolve("state"), checkout.resolve(FmHome.WATCHER_SCRIPT));
        try {
            return member(id, home.toString(), Status.gather(fm, new Knobs(its)));
        } catch (RuntimeException e) {
            return problem(id, home.toString(), "UNREADABLE", "could not be looked at (" + e.getClass().getSimpleName() + ")",
                    Advice.STATUS + "  # with FM_HOME=" + ShellWord.of(home) + " to see why");
        }
    }

    private static Member member(String id, String home, Status.Facts f) {
        Status.Judgement j = Status.judge(f);
        return new Member(id, home, j.verdict().word, j.sentence(), j.exit(), j.next(), rank(j, f), f, j);
    }

    private static Member problem(String id, String where, String verdict, String sentence, String next) {
        return new Member(id, where, verdict, sentence, 1, next, 2, null, null);
    }

    /** How bad: supervision off first, then what blocks it, queued wakes, a slow beacon, the registry's own faults. */
    private static int rank(Status.Judgement j, Status.Facts f) {
        return switch (j.verdict()) {
            case DOWN -> 7;
            case WEDGED -> 6;
            case BLOCKED -> 5;
            case SLOW -> f.queued() ? 4 : 3;
            case OK, IDLE -> f.queued() ? 4 : 0;
        };
    }

    private Member worst() {
        Member w = members.get(0);
        for (Member m : members) if (m.rank() > w.rank()) w = m;
        return w;
    }

    int exit() { return worst().rank() > 0 ? 1 : 0; }

    private String next() {
        Member w = worst();
        if (w.rank() == 0 || w.next() == null) return null;
        int hash = w.next().indexOf("  # ");
        return hash < 0 ? w.next() + "  # " + w.id() : w.next().substring(0, hash + 4) + w.id() + ": " + w.next().substring(hash + 4);
    }

    List<String> text() {
        List<String> out = new ArrayList<>();
        out.add("fleet: this home and " + registered + " registered " + (registryExists ? "in " + registry : "(no " + registry + ")"));
        for (Member m : members) {
            String home = m.facts() == null ? m.home() : ShellWord.of(m.home());
            out.add(m.id() + " " + home + " " + m.verdict() + " - " + m.sentence());
        }
        String next = next();
        if (next != null) out.add("next: " + next);
        return out;
    }

    String json() {
        Map<String, Object> all = new LinkedHashMap<>();
        all.put("registry", registry.toString());
        all.put("registryExists", registryExists);
        all.put("registered", registered);
        all.put("exit", exit());
        all.put("worst", worst().rank() > 0 ? worst().id() : null);
        all.put("next", next());
        List<Map<String, Object>> homes = new ArrayList<>();
        for (Member m : members) {
            Map<String, Object> h = new LinkedHashMap<>();
            h.put("id", m.id());
            h.put("home", m.home());
            h.put("verdict", m.verdict());
            h.put("sentence", m.sentence());
            h.put("exit", m.exit());
            h.put("next", m.next());
            h.put("status", m.facts() == null ? null : Status.jsonMap(m.facts(), m.judgement()));
            homes.add(h);
        }
        all.put("homes", homes);
        return JsonWriter.write(all);
    }
}
