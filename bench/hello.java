//JAVA 17+

/** The start-up baseline: the smallest JBang script, with no JVM options of its own. */
class hello {
    public static void main(String[] args) {
        System.out.println("hello");
    }
}
