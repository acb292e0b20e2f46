// Validates Kubernetes objects against the Kubernetes OpenAPI schema, offline, with the npm
// package kubernetes-models (its validators are generated from the OpenAPI document).
//
//   node validate_k8s.mjs NODE_MODULES_DIR objects.json [more.json ...]
//
// Each JSON file holds an array of {source, object}. Two checks per object:
//  1. kubernetes-models' validate(): types, required fields, enums, formats.
//  2. unknown fields: the OpenAPI schema of the core types does not forbid extra properties, so a
//     misspelt field (`readinesProbe`) would pass (1) and be silently dropped by the API server.
//     Every key is checked against the property list of its type, read from the package's
//     TypeScript declarations (generated from the same schema).
// Prints one line per problem; exits 1 when there is any, 0 otherwise.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const [modulesDir, ...inputs] = process.argv.slice(2);
if (!modulesDir || inputs.length === 0) {
  console.error("usage: node validate_k8s.mjs NODE_MODULES_DIR objects.json...");
  process.exit(2);
}
const require = createRequire(path.join(modulesDir, "noop.js"));
const modelsRoot = path.dirname(require.resolve("kubernetes-models/package.json"));

// interface name (e.g. IIoK8sApiCoreV1Probe) -> Map(property -> TypeScript type text)
const interfaces = new Map();
function readDeclarations(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules") readDeclarations(file);
      continue;
    }
    if (!entry.name.endsWith(".d.ts")) continue;
    const text = fs.readFileSync(file, "utf8");
    const iface = /export interface (\w+)(?: extends [^{]+)? \{\n([\s\S]*?)\n\}/.exec(text);
    if (!iface) continue;
    // Short names (IDeployment) repeat across API versions: only the exported long alias
    // (IIoK8sApiAppsV1Deployment), which the declarations use to refer to each other, is kept.
    const alias = new RegExp(`${iface[1]} as (I\\w+)`).exec(text);
    if (!alias) continue;
    const props = new Map();
    // One property a line at the interface's indentation; a map type opens a block over lines.
    for (const m of iface[2].matchAll(/^ {4}"([^"]+)"\??: (.*?);?$/gm)) props.set(m[1], m[2]);
    interfaces.set(alias[1], props);
  }
}
readDeclarations(modelsRoot);
readDeclarations(path.dirname(require.resolve("@kubernetes-models/apimachinery/package.json")));

// The interface named by a property's type text, for objects and arrays of objects.
function elementInterface(type) {
  const m = /^(?:Array<)?(I\w+)>?$/.exec(type);
  return m && interfaces.has(m[1]) ? m[1] : null;
}

function unknownFields(value, ifaceName, where, problems) {
  const props = interfaces.get(ifaceName);
  if (!props || value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => unknownFields(v, ifaceName, `${where}[${i}]`, problems));
    return;
  }
  for (const [key, child] of Object.entries(value)) {
    if (!props.has(key)) {
      problems.push(`${where}.${key}: unknown field (${ifaceName.replace(/^I/, "")})`);
      continue;
    }
    const next = elementInterface(props.get(key));
    if (next) unknownFields(child, next, `${where}.${key}`, problems);
  }
}

// The model class of an apiVersion/kind ("v1" is the core group) and its declared interface.
function modelClass(apiVersion, kind) {
  const dir = apiVersion.includes("/") ? apiVersion : "v1";
  const mod = require(`kubernetes-models/${dir}`);
  const dts = fs.readFileSync(path.join(modelsRoot, dir, `${kind}.d.ts`), "utf8");
  const alias = new RegExp(`I${kind} as (I\\w+)`).exec(dts);
  if (!mod[kind] || !alias) throw new Error(`no model for ${apiVersion} ${kind}`);
  return { cls: mod[kind], iface: alias[1] };
}

let count = 0;
const problems = [];
for (const input of inputs) {
  for (const { source, object } of JSON.parse(fs.readFileSync(input, "utf8"))) {
    const label = `${source}: ${object.kind ?? "?"}/${object.metadata?.name ?? "?"}`;
    count += 1;
    if (!object.apiVersion || !object.kind) {
      problems.push(`${label}: no apiVersion or kind`);
      continue;
    }
    let model;
    try {
      model = modelClass(object.apiVersion, object.kind);
    } catch {
      problems.push(`${label}: ${object.apiVersion} ${object.kind} is not a Kubernetes API type`);
      continue;
    }
    // kustomize folds long base64 values over lines; the API server's decoder skips line breaks.
    if (object.kind === "Secret" && object.data) {
      for (const k of Object.keys(object.data)) object.data[k] = object.data[k].replace(/\s+/g, "");
    }
    try {
      new model.cls(object).validate();
    } catch (error) {
      const details = (error.errors ?? [{ instancePath: "", message: String(error.message) }])
        .map((e) => `${e.instancePath || "/"} ${e.message}`)
        .join("; ");
      problems.push(`${label}: ${details}`);
    }
    const found = [];
    unknownFields(object, model.iface, "", found);
    for (const f of found) problems.push(`${label}: ${f}`);
  }
}
for (const p of problems) console.log(p);
console.log(`validate_k8s: ${count} objects, ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
