/*
 * gitward's SSH forced command (deploy/ssh/README.md), built to dist/ssh-relay by `npm run build`
 * (and `npm ci`). sshd runs it for every session as
 *   /opt/gitward/dist/ssh-relay SOCKET USER SHA256:...
 * USER and the key id come from the authorized_keys line `gitward key` wrote, never from the
 * client. It hands the session to the running gitward over SOCKET (app/ssh/ssh-broker.ts, which
 * decides exactly as `decide` does for HTTP, in the wire format described there), posix_spawns the
 * git command gitward answers with (argv and the whole environment; no shell), splices the
 * session's bytes both ways counting them, and reports git's exit code and the counts for the one
 * audit line. C, not a script: its start-up is paid by every fetch (bench/ssh.ts measures it
 * against the same relay in Python, bench/ssh-relay.py). Fail closed: without an answer from
 * gitward the client gets one line and exit code 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* A message is argv and environment: far below this. */
#define MAX_MSG (1 << 20)
/* Bytes moved per splice/read: a pipe's default capacity. */
#define CHUNK 65536
#define EXIT_REFUSED 1

static void say(const char *line) {
  dprintf(2, "gitward: %s\n", line);
}

static int put(char *buf, size_t *n, const char *k, const char *v) {
  size_t kl = strlen(k), vl = strlen(v);
  if (*n + kl + vl + 3 > MAX_MSG) return -1;
  memcpy(buf + *n, k, kl);
  buf[*n + kl] = '=';
  memcpy(buf + *n + kl + 1, v, vl);
  buf[*n + kl + 1 + vl] = 0;
  *n += kl + vl + 2;
  return 0;
}

static int send_all(int fd, const char *b, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads one message (ends with an empty field); returns its length or -1. */
static ssize_t read_msg(int fd, char *buf) {
  size_t n = 0;
  for (;;) {
    if (n >= 2 && buf[n - 1] == 0 && buf[n - 2] == 0) return (ssize_t)n;
    if (n >= MAX_MSG) return -1;
    ssize_t r = read(fd, buf + n, MAX_MSG - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    n += (size_t)r;
  }
}

struct pump {
  int src, dst;
  unsigned long long count;
};

static void copy(struct pump *p) {
  int use_splice = 1;
  static __thread char data[CHUNK];
  for (;;) {
    ssize_t n;
    if (use_splice) {
      n = splice(p->src, NULL, p->dst, NULL, CHUNK, SPLICE_F_MOVE);
      if (n < 0 && errno == EINVAL) {
        use_splice = 0;
        continue;
      }
    } else {
      n = read(p->src, data, sizeof data);
      if (n > 0 && send_all(p->dst, data, (size_t)n) < 0) break;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p->count += (unsigned long long)n;
  }
}

/*
 * The socket's folder is the boundary (gitward refuses to start if others may enter it); the peer
 * must also be the folder's owner or root, so a socket someone else put there is not obeyed.
 */
static int server_is_gitward(int s, const char *socket_path) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  char dir[sizeof ((struct sockaddr_un *)0)->sun_path];
  struct stat st;
  if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return 0;
  strcpy(dir, socket_path);
  if (stat(dirname(dir), &st) != 0) return 0;
  return cred.uid == 0 || cred.uid == st.st_uid;
}

static void *pump_stdin(void *arg) {
  struct pump *p = arg;
  copy(p);
  close(p->dst);
  return NULL;
}

int main(int argc, char **argv) {
  static char req[MAX_MSG], rep[MAX_MSG];
  if (argc != 4) {
    say("the forced command is not as gitward key writes it; run `gitward key sync`");
    return EXIT_REFUSED;
  }
  size_t n = 0;
  put(req, &n, "gitward-ssh", "1");
  put(req, &n, "user", argv[2]);
  put(req, &n, "key", argv[3]);
  const char *vars[][2] = {{"command", "SSH_ORIGINAL_COMMAND"}, {"protocol", "GIT_PROTOCOL"},
                           {"connection", "SSH_CONNECTION"}, {"path", "PATH"}, {"home", "HOME"}};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i][1]);
    if (v && put(req, &n, vars[i][0], v) < 0) return EXIT_REFUSED;
  }
  req[n++] = 0;
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(argv[1]) >= sizeof sa.sun_path) {
    say("the socket path is too long");
    return EXIT_REFUSED;
  }
  strcpy(sa.sun_path, argv[1]);
  if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
    say("the git service is not available right now; try again later");
    return EXIT_REFUSED;
  }
  if (!server_is_gitward(s, argv[1])) {
    say("the server socket is not gitward's; refusing (see the server's logs)");
    return EXIT_REFUSED;
  }
  if (send_all(s, req, n) != 0 || read_msg(s, rep) < 0) {
    say("the git service is not available right now; try again later");
    return EXIT_REFUSED;
  }
  if (strncmp(rep, "refuse=", 7) == 0) {
    say(rep + 7);
    return EXIT_REFUSED;
  }
  if (strcmp(rep, "run=1") != 0) {
    say("unexpected answer from the server");
    return EXIT_REFUSED;
  }
  char *args[64], *envs[256];
  int na = 0, ne = 0;
  for (char *f = rep; *f; f += strlen(f) + 1) {
    if (strncmp(f, "arg=", 4) == 0 && na < 63) args[na++] = f + 4;
    else if (strncmp(f, "env=", 4) == 0 && ne < 255) envs[ne++] = f + 4;
  }
  args[na] = NULL;
  envs[ne] = NULL;
  int in[2], out[2];
  if (na == 0 || pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
    say("unexpected answer from the server");
    return EXIT_REFUSED;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  pid_t pid;
  /* git keeps SIGPIPE's default; only the relay ignores it (a client gone mid-relay is EPIPE). */
  if (posix_spawnp(&pid, args[0], &fa, NULL, args, envs) != 0) {
    say("git could not be started");
    return EXIT_REFUSED;
  }
  close(in[0]);
  close(out[1]);
  signal(SIGPIPE, SIG_IGN);
  struct pump up = {0, in[1], 0}, down = {out[0], 1, 0};
  pthread_t t;
  pthread_create(&t, NULL, pump_stdin, &up);
  copy(&down);
  /* A client gone mid-clone: git gets EPIPE instead of blocking on a pipe nobody reads. */
  close(down.src);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  char a[32], b[32], c[32];
  snprintf(a, sizeof a, "%d", code);
  snprintf(b, sizeof b, "%llu", up.count);
  snprintf(c, sizeof c, "%llu", down.count);
  n = 0;
  put(req, &n, "exit", a);
  put(req, &n, "in", b);
  put(req, &n, "out", c);
  req[n++] = 0;
  if (send_all(s, req, n) == 0) read_msg(s, rep);
  _exit(code);
}
