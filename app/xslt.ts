/**
 * Content post-processing middleware: XML responses go through an XSLT stylesheet on their way
 * out (the fourth job PEP 3333 gives middleware). `xslt(stylesheet)(app)`.
 *
 * Only responses whose Content-Type is XML (`application/xml`, `text/xml`, `…+xml`) and whose
 * status is 2xx are transformed; everything else passes through untouched, `close()` and all.
 * A transformed response gets the stylesheet's output type (`<xsl:output method="html">` →
 * `text/html`) and a new Content-Length; its old length no longer applies.
 *
 * The transform needs the whole document, so the middleware reads the app's body to the end
 * before it answers: in TSGI an app may return a promise of its body, so this waits without
 * blocking anyone. Problems — a stylesheet or a body that is not well-formed XML, a failing
 * transform — give a 500 and one line on `tsgi.errors`, never a crashed worker.
 *
 * The processor is `xslt-processor` (XSLT 1.0 in plain JavaScript). Its parser is lenient, so
 * well-formedness is checked first with `fast-xml-parser`'s validator.
 */
import { XMLValidator } from "fast-xml-parser";
import { Xslt, XmlParser, type XDocument } from "xslt-processor";
import type {
  Application,
  HeaderList,
  Middleware,
  ResponseBody,
  StartResponse,
  Status,
  Write,
} from "@foobar/tsgi";
import { headerValue } from "@foobar/tsgi/headers";
import { withoutHeaders } from "./environ-http.js";
import { plainText } from "./plain-text.js";

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** `application/xml`, `text/xml`, `application/xhtml+xml`, `image/svg+xml`… */
export function isXmlContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  return type === "application/xml" || type === "text/xml" || type.endsWith("+xml");
}

/** A well-formedness problem in words, or null. */
function xmlProblem(text: string): string | null {
  const result = XMLValidator.validate(text);
  if (result === true) return null;
  return `${result.err.msg} (line ${result.err.line}, column ${result.err.col})`;
}

const OUTPUT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  xhtml: "application/xhtml+xml; charset=utf-8",
  text: "text/plain; charset=utf-8",
  xml: "application/xml; charset=utf-8",
};

/** A stylesheet, parsed once; or the reason it cannot be used. */
class Stylesheet {
  readonly document: XDocument | undefined;
  readonly problem: string | null;
  readonly contentType: string;
  /** Text output is not markup: nothing in it may be escaped. */
  readonly escapes: boolean;

  constructor(source: string) {
    const problem = xmlProblem(source);
    const parsed = problem === null ? new XmlParser().xmlParse(source) : undefined;
    const root = parsed?.documentElement;
    if (problem !== null) this.problem = `the stylesheet is not well-formed XML: ${problem}`;
    else if (
      root?.namespaceUri !== "http://www.w3.org/1999/XSL/Transform" ||
      (root.localName !== "stylesheet" && root.localName !== "transform")
    )
      this.problem = "the stylesheet's root element is not xsl:stylesheet or xsl:transform";
    else this.problem = null;
    this.document = this.problem === null ? parsed : undefined;
    const method = /<xsl:output\b[^>]*\bmethod\s*=\s*["']([a-z]+)["']/.exec(source)?.[1];
    this.contentType = OUTPUT_TYPES[method ?? "xml"] ?? OUTPUT_TYPES["xml"]!;
    this.escapes = method !== "text";
  }
}

class TransformError extends Error {}

/** Reads an app's whole body and closes it (also used by the /compare page). */
export async function readAll(body: ResponseBody): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  try {
    for await (const chunk of body) chunks.push(chunk);
  } finally {
    await body.close?.();
  }
  return Buffer.concat(chunks);
}

async function transform(stylesheet: Stylesheet, xmlBytes: Uint8Array): Promise<Uint8Array> {
  if (stylesheet.document === undefined) throw new TransformError(stylesheet.problem!);
  let text: string;
  try {
    text = strictUtf8.decode(xmlBytes);
  } catch {
    throw new TransformError("the response body is not UTF-8 text");
  }
  const problem = xmlProblem(text);
  if (problem !== null)
    throw new TransformError(`the response body is not well-formed XML: ${problem}`);
  try {
    // `<ol/>` is an *opening* tag to an HTML parser: write empty elements out in full.
    const output = await new Xslt({
      escape: stylesheet.escapes,
      cData: true,
      selfClosingTags: false,
    }).xsltProcess(new XmlParser().xmlParse(text), stylesheet.document);
    const isHtml = stylesheet.contentType.startsWith("text/html");
    return encoder.encode(
      isHtml && !/^<!doctype/i.test(output) ? "<!DOCTYPE html>\n" + output : output,
    );
  } catch (error) {
    throw new TransformError(
      `the transform failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

const serverError = plainText("500 Internal Server Error", "Internal Server Error\n");

/** `xslt(stylesheetSource)(app)`: renders the app's XML responses through the stylesheet. */
export function xslt(stylesheetSource: string): Middleware {
  const stylesheet = new Stylesheet(stylesheetSource);

  return (app: Application): Application =>
    async function xsltMiddleware(environ, startResponse) {
      /** Set when the app's response is XML: held back until the transform is done. */
      let held: { status: Status; headers: HeaderList; written: Uint8Array[] } | undefined;
      let passedThrough = false;

      const interceptStartResponse: StartResponse = (status, headers, excInfo) => {
        const contentEncoding = headerValue(headers, "content-encoding");
        const transformable =
          status.startsWith("2") &&
          isXmlContentType(headerValue(headers, "content-type")) &&
          (contentEncoding === undefined || contentEncoding === "identity");
        if (!transformable) {
          held = undefined;
          passedThrough = true;
          return startResponse(status, headers, excInfo);
        }
        if (excInfo === undefined && (held !== undefined || passedThrough))
          return startResponse(status, headers, excInfo); // let the server name the misuse
        held = { status, headers, written: [] };
        const write: Write = (chunk) => {
          held?.written.push(chunk);
        };
        return write;
      };

      const body = await app(environ, interceptStartResponse);
      if (passedThrough) return body;
      // If the app fails while producing its XML, nothing was sent yet: the server answers 500.
      const xmlBytes = await readAll(body);
      // Status and headers may only have come during iteration (a generator app).
      if (passedThrough) return [xmlBytes];
      if (held === undefined) return [xmlBytes]; // app never called start_response: server's 500
      const document = Buffer.concat([...held.written, xmlBytes]);
      let output: Uint8Array;
      try {
        output = await transform(stylesheet, document);
      } catch (error) {
        if (!(error instanceof TransformError)) throw error;
        environ["tsgi.errors"].write(
          `xslt: ${environ.REQUEST_METHOD} ${environ.SCRIPT_NAME}${environ.PATH_INFO}: ${error.message}\n`,
        );
        return serverError(environ, startResponse);
      }
      const headers = withoutHeaders(held.headers, "content-type", "content-length");
      headers.push(["Content-Type", stylesheet.contentType]);
      headers.push(["Content-Length", String(output.length)]);
      startResponse(held.status, headers);
      return [output];
    };
}
