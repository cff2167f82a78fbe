/*
 * sshd's AuthorizedKeysCommand for gitward (deploy/ssh/gitward-sshd.conf), built statically to
 * dist/ssh-key-lookup by `npm run build`:
 *   ssh-key-lookup /var/lib/git/.ssh/authorized_keys %f
 * prints the lines of the generated authorized_keys whose forced command ends with the offered
 * key's fingerprint (`restrict,command="RELAY SOCKET USER SHA256:<43 base64>" KEY`, written by
 * app/ssh/ssh-keys.ts renderAuthorizedKeys); the fingerprint anywhere else in a line (a comment)
 * does not count. sshd then checks that the line's key is the one offered, so a line printed here
 * grants nothing by itself.
 *
 * Why a program of ours and not `grep -F`: sshd runs the lookup twice a connection (for the
 * client's key query and again for its signature). It pads each auth request to a delay of its own
 * (5-9.2 ms, from a hash of its host keys, sshd_config and the user name), and to twice that when
 * the request took longer, so the lookup costs a fetch nothing until it pushes a request past that
 * delay, and then the whole delay. A static binary that maps the file and searches it with memmem
 * keeps the signed request well inside it, where grep's start-up did not (README, "How sshd finds
 * the keys": the figures).
 *
 * Exit codes, as grep's: 0 a line printed, 1 none, 2 an error (a message on stderr, which sshd logs).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* How every line renderAuthorizedKeys writes begins; its forced command holds no quote. */
#define LINE_PREFIX "restrict,command=\""
/* "SHA256:" and the 43 characters of an unpadded base64 SHA-256. */
#define FP_PREFIX "SHA256:"
#define FP_B64_LEN 43

static int fail(const char *what, const char *arg) {
  dprintf(2, "ssh-key-lookup: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
  return 2;
}

static int is_b64(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* The fingerprint as sshd's %f gives it with the default FingerprintHash; anything else is refused. */
static int valid_fingerprint(const char *fp) {
  size_t plen = strlen(FP_PREFIX);
  if (strncmp(fp, FP_PREFIX, plen) != 0 || strlen(fp) != plen + FP_B64_LEN) return 0;
  for (size_t i = plen; fp[i]; i++)
    if (!is_b64(fp[i])) return 0;
  return 1;
}

static int write_all(const char *b, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, b, n);
    if (w < 0) return -1;
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) return fail("usage: ssh-key-lookup AUTHORIZED_KEYS SHA256:FINGERPRINT", NULL);
  const char *file = argv[1], *fp = argv[2];
  if (!valid_fingerprint(fp)) return fail("not a SHA256 key fingerprint", fp);
  /* The needle is the end of a forced command: ` SHA256:...` and its closing quote. */
  char needle[1 + sizeof FP_PREFIX + FP_B64_LEN + 1];
  int nlen = snprintf(needle, sizeof needle, " %s\"", fp);

  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("cannot open", file);
  struct stat st;
  if (fstat(fd, &st) < 0) return fail("cannot stat", file);
  if (st.st_size == 0) return 1;
  const char *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) return fail("cannot read", file);
  const char *end = map + st.st_size, *at = map;
  int found = 0;
  while (at < end) {
    const char *hit = memmem(at, (size_t)(end - at), needle, (size_t)nlen);
    if (hit == NULL) break;
    const char *start = hit;
    while (start > map && start[-1] != '\n') start--;
    const char *nl = memchr(hit, '\n', (size_t)(end - hit));
    const char *stop = nl ? nl + 1 : end;
    /* The hit's quote must be the one that closes the forced command at the line's start. */
    size_t plen = strlen(LINE_PREFIX);
    const char *quote = hit + nlen - 1;
    int in_command = (size_t)(hit - start) >= plen && strncmp(start, LINE_PREFIX, plen) == 0 &&
                     memchr(start + plen, '"', (size_t)(quote - (start + plen))) == NULL;
    if (in_command) {
      if (write_all(start, (size_t)(stop - start)) < 0 || (nl == NULL && write_all("\n", 1) < 0))
        return fail("cannot write", NULL);
      found = 1;
    }
    at = stop;
  }
  return found ? 0 : 1;
}
