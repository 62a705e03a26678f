/**
 * The XSLT stylesheet that renders `environ-view.ts`'s XML as an HTML page. It is a TypeScript
 * string rather than an `.xsl` file so the build (plain `tsc`) ships it without a copy step.
 */
export const ENVIRON_STYLESHEET = `<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="html"/>

  <xsl:template match="/environ">
    <html>
      <head>
        <title>The environ of this request</title>
        <style>
          body { font-family: system-ui, sans-serif; margin: 2rem; }
          table { border-collapse: collapse; margin-bottom: 1.5rem; }
          th, td { border: 1px solid #ccc; padding: 0.2rem 0.6rem; text-align: left; }
          td.name { font-family: monospace; white-space: nowrap; }
          td.value { font-family: monospace; word-break: break-all; }
        </style>
      </head>
      <body>
        <h1>The environ of this request</h1>
        <p>
          This page is XML produced by a TSGI app, turned into HTML on its way out by the XSLT
          middleware. This app is mounted at
          <code><xsl:value-of select="@script-name"/></code> (SCRIPT_NAME); the rest of the path
          is <code><xsl:value-of select="@path-info"/></code> (PATH_INFO).
          The raw XML: <a href="{@script-name}.xml"><xsl:value-of select="@script-name"/>.xml</a>.
        </p>
        <p>
          Served by host <code id="hostname"><xsl:value-of select="@hostname"/></code>, worker pid
          <code id="worker-pid"><xsl:value-of select="@worker-pid"/></code>.
        </p>
        <h2>Middleware this request passed through</h2>
        <ol>
          <xsl:for-each select="trail/step">
            <li><xsl:value-of select="."/></li>
          </xsl:for-each>
        </ol>
        <xsl:apply-templates select="group"/>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="group">
    <h2>
      <xsl:choose>
        <xsl:when test="@kind = 'cgi'">CGI variables</xsl:when>
        <xsl:when test="@kind = 'header'">Request headers (HTTP_*)</xsl:when>
        <xsl:when test="@kind = 'tsgi'">tsgi.* keys</xsl:when>
        <xsl:otherwise>Extensions (server and middleware)</xsl:otherwise>
      </xsl:choose>
    </h2>
    <table>
      <xsl:for-each select="variable">
        <tr>
          <td class="name"><xsl:value-of select="@name"/></td>
          <td class="value"><xsl:value-of select="."/></td>
        </tr>
      </xsl:for-each>
    </table>
  </xsl:template>
</xsl:stylesheet>
`;
