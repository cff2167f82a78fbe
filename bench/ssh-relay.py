# The SSH relay of app/ssh/ssh-relay.c written in Python, kept for bench/ssh.ts to compare: the
# same wire format and steps, only C built-ins imported (`socket`, `json`, `threading` or `signal`
# would pull in `enum`, `re` or `collections`), run as `/usr/bin/python3 -I -S`. Python's start-up
# alone is ~50 ms more than the C relay per session on this VM, so it is not what sshd runs.
import posix
import _socket
import _thread
import _signal
import sys

CHUNK = 65536  # bytes moved per splice/read: a pipe's default capacity
MAX_REPLY = 1 << 20  # a reply is argv and environment: far below this
EXIT_REFUSED = 1


def say(line):
    posix.write(2, ('gitward: ' + line + '\n').encode('utf-8', 'replace'))


def encode(fields):
    return b''.join((k + '=' + v).encode('utf-8', 'surrogateescape') + b'\0' for k, v in fields) + b'\0'


def read_message(sock, buf):
    # Returns (fields, rest) or (None, rest) at the end of the stream.
    while b'\0\0' not in buf:
        if len(buf) > MAX_REPLY:
            return None, buf
        chunk = sock.recv(CHUNK)
        if not chunk:
            return None, buf
        buf += chunk
    end = buf.index(b'\0\0')
    fields = []
    for f in buf[:end].split(b'\0'):
        k, _, v = f.decode('utf-8', 'surrogateescape').partition('=')
        fields.append((k, v))
    return fields, buf[end + 2:]


def check_server(sock, path):
    # The socket's folder is the boundary (gitward refuses to start if others may enter it); the
    # peer must also be the folder's owner or root, so a socket someone else put there is not obeyed.
    ucred = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    peer_uid = int.from_bytes(ucred[4:8], sys.byteorder)
    folder = path.rpartition('/')[0] or '/'
    return peer_uid in (0, posix.stat(folder).st_uid)


def copy(src, dst, counter, index):
    # Moves bytes src -> dst until EOF or a closed end; splice keeps them out of Python when one
    # side is a pipe (sshd's and git's are), read/write otherwise.
    use_splice = True
    while True:
        try:
            if use_splice:
                try:
                    n = posix.splice(src, dst, CHUNK)
                except OSError as e:
                    if e.errno != 22:  # EINVAL: neither end is a pipe
                        raise
                    use_splice = False
                    continue
            else:
                data = posix.read(src, CHUNK)
                n = len(data)
                view = memoryview(data)
                while view:
                    view = view[posix.write(dst, view):]
        except OSError:
            break
        if n == 0:
            break
        counter[index] += n


def pump_stdin(git_stdin, counter):
    copy(0, git_stdin, counter, 0)
    posix.close(git_stdin)


def main(argv):
    if len(argv) != 4:
        say('the forced command is not as gitward key writes it; run `gitward key sync`')
        return EXIT_REFUSED
    path, user, key = argv[1], argv[2], argv[3]
    env = posix.environ
    request = [('gitward-ssh', '1'), ('user', user), ('key', key)]
    for name, var in ((b'command', b'SSH_ORIGINAL_COMMAND'), (b'protocol', b'GIT_PROTOCOL'),
                      (b'connection', b'SSH_CONNECTION'), (b'path', b'PATH'), (b'home', b'HOME')):
        if var in env:
            request.append((name.decode(), env[var].decode('utf-8', 'surrogateescape')))
    try:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock.connect(path)
        if not check_server(sock, path):
            say('the server socket is not gitward\'s; refusing (see the server\'s logs)')
            return EXIT_REFUSED
        sock.sendall(encode(request))
        reply, rest = read_message(sock, b'')
    except OSError:
        reply = None
    if reply is None:
        say('the git service is not available right now; try again later')
        return EXIT_REFUSED
    first = reply[0] if reply else ('', '')
    if first[0] == 'refuse':
        say(first[1])
        return EXIT_REFUSED
    if first != ('run', '1'):
        say('unexpected answer from the server')
        return EXIT_REFUSED
    args = [v.encode('utf-8', 'surrogateescape') for k, v in reply if k == 'arg']
    git_env = {}
    for k, v in reply:
        if k == 'env':
            name, _, value = v.partition('=')
            git_env[name.encode('utf-8', 'surrogateescape')] = value.encode('utf-8', 'surrogateescape')
    in_r, in_w = posix.pipe()
    out_r, out_w = posix.pipe()
    # git gets SIGPIPE back (Python ignores it) and only its own ends of the pipes.
    pid = posix.posix_spawnp(args[0], args, git_env,
                             file_actions=[(posix.POSIX_SPAWN_DUP2, in_r, 0), (posix.POSIX_SPAWN_DUP2, out_w, 1),
                                           (posix.POSIX_SPAWN_CLOSE, in_w), (posix.POSIX_SPAWN_CLOSE, out_r)],
                             setsigdef=[_signal.SIGPIPE])
    posix.close(in_r)
    posix.close(out_w)
    counter = [0, 0]
    _thread.start_new_thread(pump_stdin, (in_w, counter))
    copy(out_r, 1, counter, 1)
    _, status = posix.waitpid(pid, 0)
    code = posix.waitstatus_to_exitcode(status)
    if code < 0:
        code = 128 - code
    try:
        sock.sendall(encode([('exit', str(code)), ('in', str(counter[0])), ('out', str(counter[1]))]))
        read_message(sock, rest)
    except OSError:
        pass
    return code


if __name__ == '__main__':
    # _exit: the stdin pump may still be blocked on a client that keeps its end open.
    posix._exit(main(sys.argv))
