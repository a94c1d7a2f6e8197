//JAVA 17+
//JAVA_OPTIONS -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -XX:-UsePerfData -Xms8m

/**
 * The start-up baseline with fm-guard.java's JVM options (keep its //JAVA_OPTIONS line equal
 * to fm-guard.java's; bench/startup.java warns when they differ).
 */
class hello {
    public static void main(String[] args) {
        System.out.println("hello");
    }
}
