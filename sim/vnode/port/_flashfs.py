# The node's flash file system as the ESP32 port mounts it at "/": files in a
# directory of the VM's own file system (kept by the virtual chip across
# resets), listed with their sizes and sized like a 4 MB module's LittleFS.
# mypy: ignore-errors
import os

import _vnode as _v

_BLOCK = 4096
_BLOCKS = 512  # 2 MB


class Flash:
    def __init__(self, root):
        fs = os.VfsPosix(root)
        self._fs = fs
        # The VfsPosix's own methods, so that an error (a missing file) comes
        # out of them as from the ESP32's, with no frame of this file in it.
        self.mount = fs.mount
        self.umount = fs.umount
        self.open = fs.open
        self.chdir = fs.chdir
        self.getcwd = fs.getcwd
        self.mkdir = fs.mkdir
        self.remove = fs.remove
        self.rename = fs.rename
        self.rmdir = fs.rmdir
        self.stat = fs.stat

    def __repr__(self):
        return "<VfsLfs2>"

    def ilistdir(self, path):
        # LittleFS lists each file with its size.
        entries = self._fs.ilistdir(path)
        return self._sized(entries, path.rstrip("/") + "/" if path else "")

    def _sized(self, entries, base):
        for name, kind, inode in entries:
            yield (name, kind, inode, 0 if kind == 0x4000 else self._fs.stat(base + name)[6])

    def statvfs(self, path):
        free = max(0, _BLOCKS - (_v.flash_used() + _BLOCK - 1) // _BLOCK)
        return (_BLOCK, _BLOCK, _BLOCKS, free, free, 0, 0, 0, 0, 255)
