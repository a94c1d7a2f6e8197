# The start of every command executed directly (./fm-guard.java, a symlink to it, a path from
# elsewhere). The first line of each root script execs `/bin/sh launch/launch.sh <script> <args>`;
# this file then execs the command's JVM itself when the launch cache says the build is current,
# so a command costs one JVM start instead of two (JBang's launcher JVM, then ours).
#
# The launch cache is .fm-launch-2/<script>.sh in the checkout, written by LaunchCache.java (beside
# this file): fm_fresh() lists every input of the last build (each source, through //SOURCES; the
# jars; the java that JBang's choice followed) and fm_run() execs the JVM command JBang would exec.
# The cache's mtime is set to before the build started, so a source edited during or after the
# build is newer than the cache. Checking costs no fork: only built-ins ([ -nt ], [ -ef ], [ -f ]).
# Anything off (a missing cache, an edit, a cleared JBang cache, another java) takes the slow path:
# LaunchCache.java rebuilds under a lock and rewrites the cache, then we exec the fresh command;
# if that fails, `./jbang` runs the script, so its own errors (a compile error) reach the user.
#
# Trust: the cache is code we run as this user, so it is sourced only when it and its directory
# are this user's own files and neither is a symbolic link ([ -O ], [ -h ]: built-ins, no fork).
# Their modes the shell cannot read without a fork, so they are the writer's promise instead:
# LaunchCache creates the directory and every file in it without group or other write, whatever
# the umask, and only this user (or root) can change the mode of a file this user owns. Someone
# else who can write the checkout could change the scripts themselves, so the checkout is trusted
# as a whole. The directory is not the first format's .fm-launch/, which a run under umask 000
# left writable by everyone: nothing in it can be proven unchanged, so it is never read. Limit: a
# mode this user loosens by hand after the fact is trusted until the next slow path, which makes
# the directory private again and empties it before building (LaunchCache.java says how).
# A cache that is not trusted takes the slow path; a directory that is not ours is not built in
# (straight to `./jbang`). Either says why in one line on stderr with FM_DEBUG=1.
#
# Every step execs: the JVM keeps the pid of `./fm-guard.java &`. This runs under /bin/sh; keep
# it POSIX. Variables start with fm_ and nothing is exported, so the JVM's environment is the
# caller's. Knobs: JAVA_HOME and PATH (which java, as ./jbang picks it), FM_DEBUG=1 (the slow
# path says why it could not cache).

fm_script=$1
shift
fm_dir=${fm_script%/*}
fm_launch=${0%/*}
fm_cache_dir=$fm_dir/.fm-launch-2
fm_cache=$fm_cache_dir/${fm_script##*/}.sh

fm_say() { [ "${FM_DEBUG:-}" != 1 ] || printf 'launch: %s\n' "$*" >&2; }

# The java ./jbang would run JBang with now: JAVA_HOME's when it has one, else the first java on
# PATH (an empty entry is the current directory, as for the shell's own lookup).
fm_pick_java() {
  fm_java=
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    fm_java=$JAVA_HOME/bin/java
    return 0
  fi
  set -f
  IFS=:
  for fm_d in ${PATH:-}; do
    [ -n "$fm_d" ] || fm_d=.
    if [ -f "$fm_d/java" ] && [ -x "$fm_d/java" ]; then
      fm_java=$fm_d/java
      break
    fi
  done
  IFS=' 	
'
  set +f
  [ -n "$fm_java" ]
}

# The checks the cache's fm_fresh() calls.
fm_in() { [ -f "$1" ] && ! [ "$1" -nt "$fm_cache" ]; } # a source: present, not edited since the build began
fm_jar() { [ -f "$1" ] && [ -r "$1" ]; }               # a jar: `jbang cache clear` removes it
fm_jdk() { fm_pick_java && [ "$fm_java" -ef "$1" ]; }  # the java JBang's choice followed is the same file
fm_self() { [ "$fm_script" -ef "$1" ]; }               # the cache was written for this very script

# The cache directory, and a file in it, as the trust rule above requires.
fm_our_dir() { [ -O "$fm_cache_dir" ] && ! [ -h "$fm_cache_dir" ]; }
fm_ours() { fm_our_dir && [ -O "$1" ] && ! [ -h "$1" ] && [ -f "$1" ]; }

# Sources the cache and runs the command when it is current; returns when it is not. `command .`
# keeps a damaged cache from ending this shell; its complaint is not shown (the slow path mends it).
fm_try() {
  fm_format=
  fm_ours "$fm_cache" && command . "$fm_cache" 2>/dev/null && [ "$fm_format" = 2 ] && fm_fresh && fm_run "$@"
}

# A build takes many seconds with no output: a person at a terminal is told what it is, once,
# on stderr. Never when stderr is not a terminal: agents parse these streams.
fm_note_build() {
  [ -t 2 ] || return 0
  if [ -f "$fm_cache" ]; then fm_why='its sources changed'; else fm_why='first run'; fi
  printf 'building %s (%s)\342\200\246\n' "${fm_script##*/}" "$fm_why" >&2
}

# The slow path's builder, only where the cache can be written (else straight to JBang). It runs
# from the jar it compiled of itself while that is ours and not older than its source (a plain JVM
# start), else in source mode (about 2 CPU-s of javac). Its one line on stderr is shown with FM_DEBUG=1.
fm_build() {
  if [ -e "$fm_cache_dir" ] || [ -h "$fm_cache_dir" ]; then
    if ! fm_our_dir; then
      fm_say "not using $fm_cache_dir: it is not a directory of yours (remove it); running through ./jbang"
      return 1
    fi
    [ -w "$fm_cache_dir" ] || return 1
  else
    [ -w "$fm_dir" ] || return 1
  fi
  if [ -e "$fm_cache" ] && ! fm_ours "$fm_cache"; then
    fm_say "not using $fm_cache: it is not a file of yours (or is a symbolic link); rebuilding it"
  fi
  fm_pick_java || return 1
  fm_note_build
  fm_helper=$fm_cache_dir/LaunchCache.jar
  if fm_ours "$fm_helper" && ! [ "$fm_launch/LaunchCache.java" -nt "$fm_helper" ]; then
    set -- -classpath "$fm_helper" LaunchCache
  else
    set -- "$fm_launch/LaunchCache.java"
  fi
  if [ "${FM_DEBUG:-}" = 1 ]; then
    "$fm_java" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "$@" "$fm_script" "$fm_java" "$fm_launch" </dev/null >/dev/null
  else
    "$fm_java" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "$@" "$fm_script" "$fm_java" "$fm_launch" </dev/null >/dev/null 2>&1
  fi
}

fm_try "$@"
fm_build && fm_try "$@"
exec "$fm_dir/jbang" -Dfm.script="$fm_script" "$fm_script" "$@"
