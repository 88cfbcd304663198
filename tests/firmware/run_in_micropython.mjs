// Runs the firmware's unit tests inside the real MicroPython VM (the
// WebAssembly port) under Node.js. Usage:
//   node tests/firmware/run_in_micropython.mjs <repo root> [test_module ...]
// Prints one JSON line per test: {"test": "module.name", "ok": bool, "error": str}
// and a last line {"heap_after_import": bytes}. Exits 1 if any test failed.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const root = process.argv[2] ?? ".";
let modules = process.argv.slice(3);
const testsDir = join(root, "tests", "firmware");
if (modules.length === 0) {
  modules = readdirSync(testsDir)
    .filter((f) => f.startsWith("test_") && f.endsWith(".py"))
    .map((f) => f.slice(0, -3));
}

let output = [];
const mp = await loadMicroPython({
  stdout: (line) => output.push(line),
  stderr: (line) => output.push(line),
});

function copyTree(src, dst) {
  mp.FS.mkdir(dst);
  for (const name of readdirSync(src)) {
    const path = join(src, name);
    if (statSync(path).isDirectory()) {
      if (name !== "__pycache__") copyTree(path, `${dst}/${name}`);
    } else if (name.endsWith(".py")) {
      mp.FS.writeFile(`${dst}/${name}`, readFileSync(path));
    }
  }
}

copyTree(join(root, "firmware"), "/firmware");
copyTree(testsDir, "/fwtests");

const runner = `
import sys, gc, json
sys.path.insert(0, "/fwtests")
sys.path.insert(0, "/")
def _run(module_names):
    results = []
    for mod_name in module_names:
        try:
            mod = __import__(mod_name)
        except Exception as e:
            print(json.dumps({"test": mod_name, "ok": False,
                              "error": "import failed: %s: %s" % (type(e).__name__, e)}))
            continue
        for name in sorted(dir(mod)):
            if not name.startswith("test_"):
                continue
            fn = getattr(mod, name)
            try:
                fn()
                print(json.dumps({"test": mod_name + "." + name, "ok": True, "error": ""}))
            except Exception as e:
                print(json.dumps({"test": mod_name + "." + name, "ok": False,
                                  "error": "%s: %s" % (type(e).__name__, e)}))
`;
mp.runPython(runner);
// Heap in use once the node's modules are imported: the start-up footprint.
mp.runPython(`
import gc
gc.collect()
_before = gc.mem_alloc()
from firmware import codec, coap, config, bin_node, light_node, messaging, fill
gc.collect()
print(json.dumps({"heap_after_import": gc.mem_alloc() - _before}))
`);
mp.runPython(`_run(${JSON.stringify(modules)})`);
let failed = 0;
for (const line of output) {
  console.log(line);
  if (line.includes('"ok": false')) failed += 1;
}
process.exit(failed ? 1 : 0);
