// Runs a Python file inside the real MicroPython VM (the WebAssembly port)
// under Node.js, with host directories copied into the VM's filesystem.
//
//   node tools/micropython_vm.mjs SCRIPT.py [HOST_DIR=VM_DIR ...]
//
// .py and .mpy files are copied; VM_DIR is created. The script's output goes
// to stdout; an uncaught Python exception is printed and exits with code 1.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const [script, ...mounts] = process.argv.slice(2);
if (!script) {
  console.error("usage: node tools/micropython_vm.mjs SCRIPT.py [HOST_DIR=VM_DIR ...]");
  process.exit(2);
}

const mp = await loadMicroPython({
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});

function mkdirs(path) {
  let current = "";
  for (const part of path.split("/").filter(Boolean)) {
    current += "/" + part;
    try { mp.FS.mkdir(current); } catch { /* exists */ }
  }
}

function copyTree(src, dst) {
  mkdirs(dst);
  for (const name of readdirSync(src)) {
    const path = join(src, name);
    if (statSync(path).isDirectory()) {
      if (name !== "__pycache__") copyTree(path, `${dst}/${name}`);
    } else if (name.endsWith(".py") || name.endsWith(".mpy")) {
      mp.FS.writeFile(`${dst}/${name}`, readFileSync(path));
    }
  }
}

for (const mount of mounts) {
  const [src, dst] = mount.split("=");
  copyTree(src, dst);
}

try {
  mp.runPython(readFileSync(script, "utf8"));
} catch (e) {
  process.stderr.write(String(e.message ?? e) + "\n");
  process.exit(1);
}
