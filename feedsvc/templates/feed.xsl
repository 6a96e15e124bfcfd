<?xml version="1.0" encoding="UTF-8"?>
<!-- Shows a feed as a readable page when opened in a browser; feed readers never load this. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom" exclude-result-prefixes="atom">
  <xsl:output method="html" encoding="UTF-8" indent="yes"/>
  <!-- RSS text carries an invisible WORD JOINER after a "<" that would open a tag (see
       feeds.py); a browser page has no such ambiguity, so it is left out here. -->
  <xsl:variable name="joiner" select="'&#x2060;'"/>
  <xsl:variable name="title"
      select="translate(/rss/channel/title | /atom:feed/atom:title, $joiner, '')"/>
  <xsl:template match="/">
    <html>
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$title"/> (feed)</title>
        <style>
          body { font: 17px/1.6 Georgia, serif; max-width: 42rem; margin: 0 auto; padding: 1rem; }
          .about { font-family: system-ui, sans-serif; background: #eef3fd; color: #123; padding: .8rem 1rem; border-radius: 6px; }
          .about code { word-break: break-all; }
          .item { border-bottom: 1px solid #ddd; padding: .4rem 0 .8rem; }
          .item h2 { font-size: 1.15rem; margin: .3rem 0; }
          .meta { color: #666; font-family: system-ui, sans-serif; font-size: .85rem; }
        </style>
      </head>
      <body>
        <p class="about">This is a <strong>news feed</strong>. Copy its address into your feed reader
          to follow <xsl:value-of select="$title"/>.</p>
        <h1><xsl:value-of select="$title"/></h1>
        <p><xsl:value-of select="/rss/channel/description | /atom:feed/atom:subtitle"/></p>
        <xsl:for-each select="/rss/channel/item">
          <div class="item">
            <h2><a href="{link}"><xsl:value-of select="translate(title, $joiner, '')"/></a></h2>
            <p class="meta"><xsl:value-of select="pubDate"/></p>
            <p><xsl:call-template name="unescape"><xsl:with-param name="text" select="string(description)"/></xsl:call-template></p>
          </div>
        </xsl:for-each>
        <xsl:for-each select="/atom:feed/atom:entry">
          <div class="item">
            <h2><a href="{atom:link[@rel='alternate']/@href}"><xsl:apply-templates select="atom:title"/></a></h2>
            <p class="meta"><xsl:value-of select="atom:published"/></p>
            <p><xsl:apply-templates select="atom:summary"/></p>
          </div>
        </xsl:for-each>
      </body>
    </html>
  </xsl:template>

  <!-- feedsvc sends markup-like text as type="html": escaped text, never tags. Show the text. -->
  <xsl:template match="atom:title | atom:summary">
    <xsl:choose>
      <xsl:when test="@type = 'html'">
        <xsl:call-template name="unescape">
          <xsl:with-param name="text" select="string(.)"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="."/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template name="unescape">
    <xsl:param name="text"/>
    <xsl:choose>
      <xsl:when test="contains($text, '&amp;')">
        <xsl:value-of select="substring-before($text, '&amp;')"/>
        <xsl:variable name="rest" select="substring-after($text, '&amp;')"/>
        <xsl:choose>
          <xsl:when test="starts-with($rest, 'lt;')">&lt;</xsl:when>
          <xsl:when test="starts-with($rest, 'gt;')">&gt;</xsl:when>
          <xsl:when test="starts-with($rest, 'amp;')">&amp;</xsl:when>
          <xsl:otherwise>&amp;</xsl:otherwise>
        </xsl:choose>
        <xsl:call-template name="unescape">
          <xsl:with-param name="text">
            <xsl:choose>
              <xsl:when test="starts-with($rest, 'lt;') or starts-with($rest, 'gt;')">
                <xsl:value-of select="substring($rest, 4)"/>
              </xsl:when>
              <xsl:when test="starts-with($rest, 'amp;')"><xsl:value-of select="substring($rest, 5)"/></xsl:when>
              <xsl:otherwise><xsl:value-of select="$rest"/></xsl:otherwise>
            </xsl:choose>
          </xsl:with-param>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>
</xsl:stylesheet>
