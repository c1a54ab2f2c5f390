// Run solc-js (npm `solc`) on a Standard JSON input file and write the output file.
// Used by devnet/solidity.py: the solcjs CLI truncates large outputs written to a pipe.
// Usage: node solc-standard-json.cjs <input.json> <output.json> <include-dir>
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const [input, output, includeDir] = process.argv.slice(2);

function findImports(importPath) {
  for (const base of [process.cwd(), includeDir]) {
    const candidate = path.join(base, importPath);
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  }
  return { error: `File not found: ${importPath}` };
}

const result = solc.compile(fs.readFileSync(input, "utf8"), { import: findImports });
fs.writeFileSync(output, result);
