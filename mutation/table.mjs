// Prints the score table and the survivors of the last `npm run mutate` as Markdown, for
// docs/mutation.md: `node mutation/table.mjs`. Reads the JSON report Stryker writes
// (mutation/reports/mutation.json, the mutation-testing-report-schema).
import { readFileSync } from "node:fs";

const report = JSON.parse(readFileSync("mutation/reports/mutation.json", "utf8"));
const DETECTED = new Set(["Killed", "Timeout"]);
const UNDETECTED = new Set(["Survived", "NoCoverage"]);

const rows = [];
const survivors = [];
for (const [file, { mutants, source }] of Object.entries(report.files).sort()) {
  const count = (status) => mutants.filter((mutant) => mutant.status === status).length;
  const detected = mutants.filter((mutant) => DETECTED.has(mutant.status)).length;
  const undetected = mutants.filter((mutant) => UNDETECTED.has(mutant.status)).length;
  const score = detected + undetected === 0 ? 100 : (100 * detected) / (detected + undetected);
  rows.push(
    `| ${file} | ${score.toFixed(1)} % | ${count("Killed")} | ${count("Timeout")} | ` +
      `${count("Survived")} | ${count("NoCoverage")} | ${count("CompileError")} |`,
  );
  const lines = source.split("\n");
  for (const mutant of mutants.filter((m) => UNDETECTED.has(m.status))) {
    const { line } = mutant.location.start;
    const code = lines[line - 1].trim().slice(0, 70);
    const replacement = (mutant.replacement ?? "").replace(/\s+/g, " ").slice(0, 50);
    survivors.push(
      `| ${file}:${line} | ${mutant.mutatorName} | \`${code}\` → \`${replacement}\` | ${mutant.status} |`,
    );
  }
}
console.log("| file | score | killed | timed out | survived | no coverage | type error |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
console.log(rows.join("\n"));
console.log("\n| where | mutator | change | status |\n| --- | --- | --- | --- |");
console.log(survivors.join("\n"));
