//SOURCES FmHome.java Knobs.java

/**
 * How advice lines (fm-status's next:, the guard's banner and warning, the arm's FAILED hint)
 * name the commands they tell the user to run. FM_ARM_COMMAND and FM_DRAIN_COMMAND override
 * the arm and the drain (an adopted home's shims set them to the home's own scripts).
 */
record Advice(String arm, String drain, String status, String unresolvedNext) {

    static Advice of(FmHome home, Knobs knobs) {
        return new Advice(knobs.armCommand(), knobs.drainCommand(), "jbang fm-status.java",
                "export FM_HOME=<the home that holds fm-watch.java>  # then run jbang fm-status.java again");
    }

    /** No home could be resolved: only the knobs are known. */
    static Advice unresolved(Knobs knobs) {
        return of(null, knobs);
    }
}
