/**
 * How an environ value reads on a page: the hello page's table and the XML environ view both
 * show values with `describeValue`.
 */

/**
 * Native strings hold bytes as Latin-1; this is the UTF-8 text they usually stand for. A string
 * that is not bytes (a code unit above 0xFF) or not valid UTF-8 is returned as it is.
 */
export function fromNative(value: string): string {
  if ([...value].some((character) => character.charCodeAt(0) > 0xff)) return value;
  const text = Buffer.from(value, "latin1").toString("utf8");
  return text.includes("\uFFFD") ? value : text;
}

/**
 * One environ value as text: a string quoted (with the UTF-8 it stands for, when that differs),
 * an array as JSON, a function by its name, any other object by its kind: `<RequestInput>`.
 */
export function describeValue(value: unknown): string {
  if (typeof value === "string") {
    const text = fromNative(value);
    return text === value ? JSON.stringify(value) : `${JSON.stringify(value)} (UTF-8: ${text})`;
  }
  if (typeof value === "boolean" || typeof value === "number") return String(value);
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return JSON.stringify(value);
  if (typeof value === "function") return `function ${value.name || "(anonymous)"}`;
  const name = (value as object).constructor?.name;
  return `<${name && name !== "Object" ? name : "object"}>`;
}
