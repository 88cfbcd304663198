# Bytes kept in a file in the node's flash (LittleFS), for what must survive a
# power loss and is too big for NVS (the queue of reports). A save writes a
# temporary file and renames it over the old one, so that a power cut during
# the write leaves the old contents, never half of the new.
import os


class FileStore:
    def __init__(self, name):
        self.name = name
        self.tmp = name + ".tmp"

    def load(self):
        for name in (self.name, self.tmp):  # tmp: cut between remove and rename below
            try:
                with open(name, "rb") as f:
                    return f.read()
            except OSError:
                pass
        return b""

    def save(self, data):
        with open(self.tmp, "wb") as f:
            f.write(data)
        try:
            os.rename(self.tmp, self.name)  # LittleFS replaces the old file atomically
        except OSError:  # a FAT file system does not rename over a file
            os.remove(self.name)
            os.rename(self.tmp, self.name)
