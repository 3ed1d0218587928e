// Compiles chain/contracts/*.sol with the pinned solc package into
// chain/artifacts/<Name>.json (ABI and bytecode), which Python loads, so
// nothing at run time or in the Python tests needs Node.
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const root = path.join(__dirname, "..");
const contractsDir = path.join(__dirname, "contracts");
const artifactsDir = path.join(__dirname, "artifacts");

const sources = {};
for (const file of fs.readdirSync(contractsDir).filter((f) => f.endsWith(".sol")).sort()) {
  sources[file] = { content: fs.readFileSync(path.join(contractsDir, file), "utf8") };
}

function findImports(importPath) {
  try {
    return { contents: fs.readFileSync(path.join(root, "node_modules", importPath), "utf8") };
  } catch (error) {
    return { error: `import not found: ${importPath}` };
  }
}

const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

fs.mkdirSync(artifactsDir, { recursive: true });
for (const file of Object.keys(sources)) {
  for (const [name, contract] of Object.entries(output.contracts[file])) {
    const artifact = {
      contractName: name,
      sourceName: `chain/contracts/${file}`,
      compiler: `solc ${solc.version()}`,
      abi: contract.abi,
      bytecode: "0x" + contract.evm.bytecode.object,
      deployedBytecode: "0x" + contract.evm.deployedBytecode.object,
    };
    fs.writeFileSync(path.join(artifactsDir, `${name}.json`), JSON.stringify(artifact, null, 2) + "\n");
    console.log(`compiled ${name}`);
  }
}
