"""Why the system refused a file or a socket, in the project's words with the errno's
name as the code (not the C library's sentence, which a locale may translate)."""

import errno

_WORDS = {
    errno.ENOENT: "no such file",
    errno.EACCES: "permission denied",
    errno.EPERM: "not permitted",
    errno.EISDIR: "a folder, not a file",
    errno.ENOTDIR: "a file where a folder should be",
    errno.EEXIST: "exists already",
    errno.ENOSPC: "the disk is full",
    errno.EROFS: "read-only file system",
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.ETIMEDOUT: "timed out",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.EADDRINUSE: "the port is taken",
    errno.EADDRNOTAVAIL: "not an address of this machine",
    errno.EPIPE: "the other side closed the connection",
}


def os_reason(exc: OSError) -> str:
    """`connection refused (ECONNREFUSED)`; the exception's class for an OSError without
    an errno (a timeout raised by asyncio, a name lookup's gaierror)."""
    if exc.errno is None or exc.errno not in errno.errorcode:
        return type(exc).__name__
    name = errno.errorcode[exc.errno]
    words = _WORDS.get(exc.errno)
    return f"{words} ({name})" if words else name
