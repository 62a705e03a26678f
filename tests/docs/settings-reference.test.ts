/**
 * docs/gateway.md's settings reference against the table it is written from (gateway/settings.ts):
 * every setting in its section, in the table's order, with the same flags, default and meaning.
 * A setting added, renamed or re-described in one place and not the other fails here, with the
 * row as it should read.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SETTINGS, type SettingSpec } from "../../gateway/settings.js";

/** A cell as Markdown writes it: `|` escaped. */
const cell = (text: string) => text.replace(/\|/g, "\\|");

/** The row a setting should have: setting, flags, default, meaning. */
function expectedRow(spec: SettingSpec): string[] {
  const flags = [
    ...(spec.short === undefined ? [] : [`\`-${spec.short}\``]),
    ...(spec.flag === undefined
      ? []
      : [`\`--${spec.flag}${spec.meta === undefined ? "" : ` ${spec.meta}`}\``]),
  ].join(" ");
  return [
    `\`${spec.name}\``,
    cell(flags === "" ? "config file only" : flags),
    cell(`\`${spec.defaultText}\``),
    cell(spec.description),
  ];
}

/** The docs' settings reference: section heading → its table's rows, split into cells. */
function documentedSections(markdown: string): Map<string, string[][]> {
  const start = markdown.indexOf("\n## Settings\n");
  const end = markdown.indexOf("\n## ", start + 1);
  const sections = new Map<string, string[][]>();
  let rows: string[][] | undefined;
  for (const line of markdown.slice(start, end === -1 ? undefined : end).split("\n")) {
    if (line.startsWith("### ")) sections.set(line.slice(4).trim(), (rows = []));
    else if (rows !== undefined && line.startsWith("| `"))
      rows.push(
        line
          .slice(1, -1)
          .split(/(?<!\\)\|/)
          .map((text) => text.trim()),
      );
  }
  return sections;
}

describe("docs/gateway.md settings reference", () => {
  const documented = documentedSections(readFileSync("docs/gateway.md", "utf8"));
  const expected = new Map<string, string[][]>();
  for (const spec of SETTINGS) {
    const rows = expected.get(spec.section) ?? [];
    rows.push(expectedRow(spec));
    expected.set(spec.section, rows);
  }

  it("has the table's sections, in its order", () => {
    expect([...documented.keys()]).toEqual([...expected.keys()]);
  });

  it.each([...expected])(
    "%s: name, flags, default and meaning as in gateway/settings.ts",
    (section, rows) => {
      expect(documented.get(section)).toEqual(rows);
    },
  );

  it("reads the rows it compares (a broken parser would compare nothing)", () => {
    const rowCount = [...documented.values()].reduce((sum, rows) => sum + rows.length, 0);
    expect(rowCount).toBe(SETTINGS.length);
  });
});
