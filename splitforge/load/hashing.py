"""Hash what is read, while it is read: a file's sha256 taken from the very bytes a parser got.

The build's id hashes every input before any data is read. A file that a writer appends to (or
rewrites) during the build would then be described by a hash of other bytes than the ones the
build holds, and a later build of the hashed bytes would say "nothing changed". Every reader
therefore hashes the bytes it parses (``HashingFile``), and the caller compares that hash with
the one taken at the start (``check_unchanged``).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pyarrow as pa

from splitforge.errors import InputError


class HashingFile(io.RawIOBase):
    """A file read front to back; every byte read goes into a sha256 (of the file as stored)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._digest = hashlib.sha256()
        self._position = 0

    def readable(self) -> bool:
        """Always: it is an input."""
        return True

    def seekable(self) -> bool:
        """Never: a hash of the bytes read needs them read once, in order."""
        return False

    def tell(self) -> int:
        """Bytes read so far."""
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Read into ``buffer`` and hash what was read."""
        n = self._file.readinto(buffer)
        if n:
            self._digest.update(memoryview(buffer)[:n])
            self._position += n
        return n or 0

    def read(self, size: int | None = -1) -> bytes:
        """Read up to ``size`` bytes (all when negative) and hash them."""
        data = self._file.read(-1 if size is None else size)
        self._digest.update(data)
        self._position += len(data)
        return data

    def read_rest(self) -> None:
        """Read to the end, so that the hash covers the whole file."""
        while self.read(1 << 20):
            pass

    def hexdigest(self) -> str:
        """The sha256 of the bytes read so far."""
        return self._digest.hexdigest()

    def close(self) -> None:
        """Close the underlying file."""
        self._file.close()
        super().close()


_CODECS = {".gz": ("gzip", b"\x1f\x8b"), ".bz2": ("bz2", b"BZh"),
           ".zst": ("zstd", b"\x28\xb5\x2f\xfd")}


def compression_of(path: str | Path) -> str | None:
    """The codec a file's extension names (``.gz``, ``.bz2``, ``.zst``, any case), or None."""
    codec = _CODECS.get(Path(path).suffix.lower())
    return codec[0] if codec else None


def compressed_error(path: str | Path, exc: BaseException) -> InputError:
    """A compressed file that does not decompress: not of its codec at all, or damaged."""
    suffix = Path(path).suffix
    codec, magic = _CODECS[suffix.lower()]
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(magic))
    except OSError:
        head = magic
    if head != magic:
        return InputError(f"not a {codec} file, though its name ends in {suffix}: compress it "
                          f"with {codec}, or drop the {suffix}", path=path)
    return InputError(f"a damaged or truncated {codec} file ({exc}); compress it again",
                      path=path)


def open_stream(path: str | Path, hashed: bool = False
                ) -> tuple[pa.NativeFile, HashingFile | None]:
    """An Arrow input stream over ``path``, decompressed as its extension says.

    With ``hashed``, the stream reads through a ``HashingFile`` (returned too), whose hash is of
    the stored bytes; otherwise Arrow reads the file itself and nothing is hashed.
    """
    compression = compression_of(path)
    if not hashed:
        return pa.input_stream(str(path), compression=compression), None
    raw = HashingFile(path)
    stream: pa.NativeFile = pa.PythonFile(raw, mode="r")
    if compression:
        stream = pa.CompressedInputStream(stream, compression)
    return stream, raw


def check_unchanged(path: str | Path, expected: str | None, read: str | None,
                    during: str = "the build") -> None:
    """Raise when the bytes a reader hashed (``read``) are not the ones hashed first.

    Raises:
        InputError: The hashes differ: the file changed while the command ran.
    """
    if expected is None or read is None or expected == read:
        return
    raise InputError(f"the source changed during {during}: the bytes read differ from the "
                     f"ones hashed when it started (a writer still appending to it, or a copy "
                     f"in progress?); nothing was written. Run it again once the file is "
                     f"complete", path=path)
