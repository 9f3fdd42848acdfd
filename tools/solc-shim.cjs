#!/usr/bin/env node
// solc-shim: makes solc-js (the official compiler built to WebAssembly, npm `solc`)
// answer like a native `solc` binary for py-solc-x / ape-solidity.
//
// Supported command lines (all py-solc-x and ape-solidity use):
//   solc-vX.Y.Z --version
//   solc-vX.Y.Z --standard-json [--base-path DIR] [--include-path DIR]... [--allow-paths A,B]
//   (standard JSON input on stdin, standard JSON output on stdout)
//
// Imports are resolved like native solc: remappings are applied by the compiler,
// then the path is looked up under --base-path and each --include-path; a path that
// escapes them is refused unless it lies under an --allow-paths entry.
'use strict';
const fs = require('fs');
const path = require('path');

function fail(msg, code = 2) {
  process.stderr.write(`solc-shim: ${msg}\n`);
  process.exit(code);
}

function loadSolc() {
  const root = process.env.PINFI_ROOT || path.resolve(__dirname, '..');
  try {
    return require(require.resolve('solc', { paths: [root, __dirname] }));
  } catch (e) {
    fail(`the npm package "solc" is not installed (run "npm ci" in ${root}): ${e.message}`);
  }
}

function requestedVersion() {
  // The wrapper that execs us is named solc-v<version>; PINFI_SOLC_REQUESTED carries it.
  return process.env.PINFI_SOLC_REQUESTED || null;
}

function parseArgs(argv) {
  const opts = { standardJson: false, version: false, basePath: null, includePaths: [], allowPaths: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) fail(`option ${a} needs a value`);
      return argv[++i];
    };
    if (a === '--version') opts.version = true;
    else if (a === '--standard-json') opts.standardJson = true;
    else if (a === '--base-path') opts.basePath = next();
    else if (a === '--include-path') opts.includePaths.push(next());
    else if (a === '--allow-paths') opts.allowPaths.push(...next().split(',').filter(Boolean));
    else if (a === '-') { /* read stdin: implied by --standard-json */ }
    else fail(`unrecognised option '${a}' (solc-shim supports --version and --standard-json)`);
  }
  return opts;
}

function makeResolver(opts) {
  // PINFI_ROOT (the project root holding node_modules) acts as a last --include-path: Ape compiles
  // from a temporary copy of contracts/, so remapped node_modules paths resolve against it.
  const extra = process.env.PINFI_ROOT ? [process.env.PINFI_ROOT] : [];
  const roots = [opts.basePath || process.cwd(), ...opts.includePaths, ...extra].map((p) => path.resolve(p));
  const allowed = [...roots, ...opts.allowPaths.map((p) => path.resolve(p))];
  const inside = (file, dir) => file === dir || file.startsWith(dir + path.sep);
  return function findImports(importPath) {
    const candidates = path.isAbsolute(importPath)
      ? [path.resolve(importPath)]
      : roots.map((r) => path.resolve(r, importPath));
    for (const file of candidates) {
      if (!allowed.some((dir) => inside(file, dir))) continue;
      if (fs.existsSync(file) && fs.statSync(file).isFile()) {
        return { contents: fs.readFileSync(file, 'utf8') };
      }
    }
    return { error: `File not found: ${importPath} (searched ${roots.join(', ')})` };
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const solc = loadSolc();
  const have = solc.version(); // e.g. 0.8.28+commit.7893614a.Emscripten.clang
  const want = requestedVersion();
  if (want && !have.startsWith(want + '+')) {
    fail(`solc ${want} was requested but the npm package "solc" provides ${have.split('+')[0]}; ` +
         `pin "solc": "${want}" in package.json or request ${have.split('+')[0]}`);
  }
  if (opts.version) {
    process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${have}\n`);
    return;
  }
  if (!opts.standardJson) fail('nothing to do: pass --version or --standard-json');
  let input;
  try {
    input = JSON.parse(fs.readFileSync(0, 'utf8'));
  } catch (e) {
    fail(`standard JSON input on stdin is not valid JSON: ${e.message}`);
  }
  const findImports = makeResolver(opts);
  // Native solc loads `urls` sources itself; solc-js needs their content inline.
  for (const [name, src] of Object.entries(input.sources || {})) {
    if (src.content === undefined && Array.isArray(src.urls)) {
      const found = src.urls.map(findImports).find((r) => r.contents !== undefined);
      if (found) src.content = found.contents;
      delete src.urls;
      if (src.content === undefined) {
        process.stdout.write(JSON.stringify({ errors: [{ severity: 'error', type: 'IOError',
          component: 'general', message: `Cannot import url ("${name}")`,
          formattedMessage: `Error: Cannot import url ("${name}")` }] }));
        return;
      }
    }
  }
  process.stdout.write(solc.compile(JSON.stringify(input), { import: findImports }));
}

main();
